"""The motion schemas: v1/v3 lookup by width and by name."""

import pytest

from stickeval.data.schema import V1, V3, schema_for_dim, schema_for_name


def test_schemas_are_found_by_width_and_by_name():
    assert schema_for_dim(20) is schema_for_name("v1") is V1
    assert schema_for_dim(48) is schema_for_name("v3") is V3
    assert (V1.dim, V3.dim) == (20, 48)


def test_an_unknown_schema_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"No motion schema is called 'v2'; known: v1 .*, v3"):
        schema_for_name("v2")
