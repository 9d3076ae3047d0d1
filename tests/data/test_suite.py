"""The Suite container: content hash, read-only arrays, selection, and the hashed split rule."""

import numpy as np
import pytest

from stickeval.data.suite import TEST_FRACTION, Suite, content_hash, select, split_of


@pytest.fixture
def suite() -> Suite:
    rng = np.random.default_rng(0)
    return Suite.build(
        name="toy",
        version="toy-v1",
        ids=[f"id{i}" for i in range(4)],
        prompts=["walks", "runs", "waves", "jumps"],
        motion=rng.standard_normal((4, 10, 20)).astype(np.float32),
        actions=np.ones((4, 10), dtype=np.int64),
        lengths=np.array([10, 10, 8, 5], dtype=np.int64),
        labels=["walk", "run", "wave", "jump"],
    )


def fields(s: Suite) -> dict:
    return dict(ids=s.ids, prompts=s.prompts, labels=s.labels, motion=s.motion, actions=s.actions, lengths=s.lengths)


def test_the_hash_is_the_content_hash_of_the_fields(suite):
    assert suite.hash == content_hash(**fields(suite))
    assert len(suite) == 4


@pytest.mark.parametrize("field", ["ids", "prompts", "labels", "motion", "actions", "lengths"])
def test_changing_any_field_changes_the_hash(suite, field):
    changed = fields(suite)
    value = changed[field]
    if isinstance(value, list):
        changed[field] = [*value[:-1], value[-1] + "x"]
    else:
        changed[field] = value.copy()
        changed[field].flat[-1] += 1
    assert content_hash(**changed) != suite.hash


def test_embeddings_enter_the_hash_when_present(suite):
    with_embeddings = content_hash(**fields(suite), embeddings=np.zeros((4, 3), np.float32))
    assert with_embeddings != suite.hash


def test_suite_arrays_are_read_only(suite):
    with pytest.raises(ValueError):
        suite.motion[0, 0, 0] = 0.0


def test_select_keeps_the_chosen_samples_in_order_with_a_new_hash(suite):
    picked = select(suite, np.array([2, 0]), name="picked")
    assert (picked.name, picked.ids, picked.labels) == ("picked", ["id2", "id0"], ["wave", "walk"])
    np.testing.assert_array_equal(picked.motion, suite.motion[[2, 0]])
    assert picked.hash == content_hash(**fields(picked)) != suite.hash


def test_the_split_depends_only_on_the_key_and_is_balanced():
    keys = [f"sample-{i}" for i in range(4000)]
    first = [split_of(k) for k in keys]
    assert first == [split_of(k) for k in keys]
    assert set(first) == {"train", "test"}
    assert abs(first.count("test") / len(keys) - TEST_FRACTION) < 0.03
