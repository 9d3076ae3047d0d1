"""The motion schemas: v1/v3 lookup by width and by name, and the converters' second v1 segment order."""

import numpy as np
import pytest

from stickeval.data.schema import (
    V1,
    V3,
    schema_for_dim,
    schema_for_name,
    v1_from_converter_order,
)


def test_the_converters_segment_order_is_reordered_to_the_canonical_v1_order():
    # Reference stick-gen.md §3.1: the real-data converters store head-torso, left arm, right arm,
    # left leg, right leg; canonical v1 is torso, left leg, right leg, left arm, right arm.
    torso, left_arm, right_arm, left_leg, right_leg = ([10 * k + i for i in range(4)] for k in range(1, 6))
    converter_frame = np.array([torso + left_arm + right_arm + left_leg + right_leg], dtype=np.float32)
    canonical = v1_from_converter_order(converter_frame)
    assert canonical.tolist() == [torso + left_leg + right_leg + left_arm + right_arm]


def test_reordering_keeps_leading_axes_and_joints_land_where_v1_reads_them():
    rng = np.random.default_rng(0)
    clips = rng.normal(size=(3, 7, 20)).astype(np.float32)
    canonical = v1_from_converter_order(clips)
    assert canonical.shape == clips.shape
    # the converters' left arm (dims 4-7) ends at the left hand, which v1 reads from its dims 14-15
    np.testing.assert_array_equal(canonical[..., 14:16], clips[..., 6:8])
    # the converters' right leg (dims 16-19) ends at the right foot, v1 dims 10-11
    np.testing.assert_array_equal(canonical[..., 10:12], clips[..., 18:20])


def test_reordering_motion_of_another_width_is_refused():
    with pytest.raises(ValueError, match="expected 20 numbers per frame, got 48"):
        v1_from_converter_order(np.zeros((2, 48)))


def test_schemas_are_found_by_width_and_by_name():
    assert schema_for_dim(20) is schema_for_name("v1") is V1
    assert schema_for_dim(48) is schema_for_name("v3") is V3
    assert (V1.dim, V3.dim) == (20, 48)


def test_an_unknown_schema_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"No motion schema is called 'v2'; known: v1 .*, v3"):
        schema_for_name("v2")
