"""StickBench as a suite: sizes, split, determinism, hash, prompts, and that it can be learned."""

import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from stickeval.data.prompts import CONNECTORS, MODIFIERS
from stickeval.data.schema import ACTION_TO_ID, ACTIONS, N_FRAMES, V1, joints, segment_lengths
from stickeval.data.stickbench import SIZES, VERSION, draw_sample, load_suite, make_sample, sample_id, stickbench_suite
from stickeval.data.suite import split_of
from stickeval.errors import DatasetError, UnknownSuiteError

# The content hash of stickbench-v1 quick/test, seed 0. It pins the published benchmark: if the
# generator changes a single bit, this fails, and the change must come with a new VERSION.
STICKBENCH_V1_QUICK_TEST_HASH = "ecc075ee2367a1ae65fb6cff8b5b1f0063b67566bf0257a48ea90f39cdfa8263"


@pytest.fixture(scope="module")
def quick():
    return load_suite("quick")


def test_quick_is_cpu_sized_and_standard_has_over_a_thousand_test_prompts(quick):
    assert 64 <= len(quick) <= 192
    assert len(load_suite("standard")) >= 1000


def test_a_suite_has_the_contract_fields_shapes_and_dtypes(quick):
    n = len(quick)
    assert (quick.name, quick.version) == ("stickbench-quick", VERSION)
    assert quick.motion.shape == (n, N_FRAMES, V1.dim) and quick.motion.dtype == np.float32
    assert quick.actions.shape == (n, N_FRAMES) and quick.actions.dtype == np.int64
    assert quick.lengths.dtype == np.int64 and np.all(quick.lengths == N_FRAMES)
    assert len(quick.ids) == len(quick.prompts) == len(quick.labels) == n
    assert quick.embeddings is None
    assert re.fullmatch(r"[0-9a-f]{64}", quick.hash)


def test_stickbench_covers_at_least_16_schema_actions_and_labels_match_the_action_track(quick):
    standard = load_suite("standard")
    assert len(set(standard.labels)) >= 16 and set(standard.labels) <= set(ACTIONS)
    for label, track in zip(quick.labels, quick.actions):
        assert track[0] == ACTION_TO_ID[label]
        assert np.mean(track == ACTION_TO_ID[label]) >= 0.5


def test_every_quick_sample_satisfies_the_skeleton_invariants():
    for index in range(SIZES["quick"]):
        _, motion, _ = make_sample(index)
        lengths = segment_lengths(motion)
        assert (lengths.std(axis=0) / lengths.mean(axis=0)).max() < 1e-9, index
        j = joints(motion)
        assert min(j[k][:, 1].min() for k in ("left_foot", "right_foot", "left_hand", "right_hand")) >= 0.0, index


def test_the_float32_suite_keeps_feet_above_ground_and_lengths_steady(quick):
    lengths = segment_lengths(quick.motion.astype(np.float64))
    assert (lengths.std(axis=1) / lengths.mean(axis=1)).max() < 1e-5  # float32 rounding of coordinates up to ~60
    j = joints(quick.motion)
    assert min(j[k][..., 1].min() for k in ("left_foot", "right_foot")) >= 0.0


def test_the_same_seed_regenerates_identical_bytes(quick):
    rebuilt = stickbench_suite.__wrapped__("quick", "test", 0, None)
    assert rebuilt.motion.tobytes() == quick.motion.tobytes()
    assert rebuilt.prompts == quick.prompts and rebuilt.hash == quick.hash


def test_a_different_seed_gives_different_clips_prompts_and_hash(quick):
    other = load_suite("quick", seed=1)
    assert other.ids == quick.ids  # the split depends on the id only
    assert other.hash != quick.hash
    assert other.prompts != quick.prompts
    assert not np.array_equal(other.motion, quick.motion)


def test_the_published_stickbench_v1_quick_hash_is_frozen(quick):
    assert quick.hash == STICKBENCH_V1_QUICK_TEST_HASH


def test_a_sample_depends_neither_on_suite_size_nor_on_build_order(quick):
    standard = load_suite("standard")
    np.testing.assert_array_equal(standard.motion[: len(quick)], quick.motion)
    assert standard.ids[: len(quick)] == quick.ids
    backwards = [make_sample(i) for i in reversed(range(5))][::-1]
    for i, (spec, motion, _) in enumerate(backwards):
        again_spec, again_motion, _ = make_sample(i)
        assert spec == again_spec and motion.tobytes() == again_motion.tobytes()


def test_train_and_test_split_the_ids_disjointly_by_hash():
    train, test = load_suite("quick", split="train"), load_suite("quick", split="test")
    assert not set(train.ids) & set(test.ids)
    assert set(train.ids) | set(test.ids) == {sample_id(i) for i in range(SIZES["quick"])}
    assert all(split_of(i) == "test" for i in test.ids)


def test_limit_keeps_the_first_samples_of_the_split(quick):
    few = load_suite("quick", limit=7)
    assert few.ids == quick.ids[:7]
    np.testing.assert_array_equal(few.motion, quick.motion[:7])
    assert few.hash != quick.hash


def test_multi_action_prompts_name_both_actions_and_carry_a_two_part_track():
    n_multi = 0
    for index in range(120):
        spec, _, track = make_sample(index)
        if len(spec.parts) == 2:
            n_multi += 1
            first, second = (ACTION_TO_ID[p.action] for p in spec.parts)
            assert any(c.strip(" ,") in spec.prompt for c in CONNECTORS)
            assert track[0] == first and track[-1] == second
            assert np.count_nonzero(np.diff(track)) == 1
            assert spec.parts[0].n_frames >= N_FRAMES // 2
    assert 15 <= n_multi <= 45  # about a quarter


def test_every_modifier_in_a_spec_is_written_in_its_prompt():
    seen = set()
    for index in range(SIZES["quick"]):
        spec, _ = draw_sample(index)
        for part in spec.parts:
            for modifier in part.modifiers:
                assert modifier in spec.prompt
                seen.add(modifier)
    assert {"slowly", "quickly", "twice", "to the left"} <= seen
    assert seen <= set(MODIFIERS)


def _features(motion: np.ndarray) -> np.ndarray:
    """Hip-relative pose statistics, hip velocity and a coarse spectrum per clip."""
    j = joints(motion)
    rel = np.concatenate([j[k] - j["hip"] for k in ("neck", "left_foot", "right_foot", "left_hand", "right_hand")], axis=-1)
    velocity = np.diff(j["hip"], axis=1)
    spectrum = np.abs(np.fft.rfft(rel - rel.mean(axis=1, keepdims=True), axis=1))[:, 1:25].mean(axis=2)
    stats = [rel.mean(1), rel.std(1), rel.min(1), rel.max(1), np.abs(velocity).mean(1), velocity.std(1)]
    return np.concatenate([*stats, np.log1p(spectrum)], axis=1)


def test_a_simple_classifier_trained_on_stickbench_train_is_accurate_on_test():
    train, test = load_suite("standard", split="train"), load_suite("standard", split="test")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with threadpool_limits(1):  # BLAS threads on a busy 2-core machine make this fit 50x slower
        clf.fit(_features(train.motion), train.labels)
    predicted = clf.predict(_features(test.motion))
    labels = np.array(test.labels)
    single = np.array([len(np.unique(track)) == 1 for track in test.actions])
    assert np.mean(predicted == labels) > 0.85  # chance: 1/17
    assert np.mean(predicted[single] == labels[single]) > 0.95


def test_an_unknown_suite_name_is_refused_with_suggestions():
    with pytest.raises(UnknownSuiteError, match="Did you mean quick") as e:
        load_suite("quik")
    assert e.value.known == ["quick", "real", "standard"]


@pytest.mark.parametrize(("kwargs", "message"), [({"split": "val"}, "Unknown split 'val'"), ({"limit": 0}, "positive")])
def test_a_bad_split_or_limit_is_refused(kwargs, message):
    with pytest.raises(DatasetError, match=message):
        load_suite("quick", **kwargs)
