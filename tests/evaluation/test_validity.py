"""The validity table: pairing held-out real clips with references, the degenerate families, the ranking rules."""

import numpy as np
import pytest

from stickeval.data.stickbench import load_suite
from stickeval.evaluation.baselines import _nearest, below_real, closer_than_real, is_memorised
from stickeval.evaluation.validity import COLUMNS, FAMILIES, SMOOTH_FRAMES, degenerate_families, pair_test_split, validate_metrics
from stickeval.metrics.corruptions import moving_average, reverse_clips
from stickeval.metrics.stats import Estimate


@pytest.fixture(scope="module")
def quick():
    test, train = load_suite("quick", split="test"), load_suite("quick", split="train")
    pairs = pair_test_split(test)
    return test, train, pairs, degenerate_families(pairs, train)


def test_pairs_never_share_a_source_and_answer_with_the_same_action(quick):
    test, _, pairs, _ = quick
    ref_ids = set(pairs.reference.ids)
    assert len(pairs.lengths) >= 32
    by_id = dict(zip(test.ids, test.labels))
    assert all(by_id[i] == lab for i, lab in zip(pairs.reference.ids, pairs.reference.labels))
    # Each held-out clip is some test clip outside the reference half, of the reference's action.
    held = {tuple(m[:5].ravel()): lab for m, lab, i in zip(test.motion, test.labels, test.ids) if i not in ref_ids}
    for clip, length, label in zip(pairs.held_out, pairs.lengths, pairs.reference.labels):
        assert held[tuple(clip[:5].ravel())] == label
        assert length >= 5


def test_families_are_what_they_say(quick):
    _, train, pairs, families = quick
    assert set(families) == set(FAMILIES)
    real, n = families["real"], pairs.lengths
    np.testing.assert_array_equal(families["copy"][:, : n.min()], pairs.reference.motion[:, : n.min()])
    np.testing.assert_array_equal(families["reversed"], reverse_clips(real, n))
    np.testing.assert_array_equal(families["first_frame"], np.repeat(real[:, :1], real.shape[1], axis=1))
    assert np.ptp(families["mean_pose"], axis=(0, 1)).max() == 0.0
    np.testing.assert_allclose(families["smoothed"][:, : n.min()], moving_average(real, SMOOTH_FRAMES)[:, : n.min()])
    noise = families["white_noise"].reshape(-1, real.shape[-1])
    np.testing.assert_allclose(noise.std(axis=0), train.motion.reshape(-1, real.shape[-1]).std(axis=0), rtol=0.1)
    assert np.abs(families["jitter"] - real).max() > 0.1 and np.abs(families["jitter"] - real).mean() < 0.05


def est(lo, hi):
    return Estimate((lo + hi) / 2, (lo, hi), 100, None)


def test_ranking_needs_non_overlapping_intervals_in_the_metric_direction():
    real = est(0.5, 0.6)
    assert below_real(est(0.1, 0.4), real, True) and not below_real(est(0.1, 0.55), real, True)
    assert below_real(est(0.7, 0.9), real, False) and not below_real(est(0.1, 0.4), real, False)
    assert closer_than_real(est(0.1, 0.4), real, False) and not closer_than_real(est(0.1, 0.4), real, True)
    assert not below_real(est(5, 6), real, None) and not closer_than_real(est(5, 6), real, None)


def test_memorised_when_pose_error_beats_real_and_the_evaluator_fid_does_not_rank_it_below():
    real = {"pose_mse": est(1.0, 2.0), "evaluator_fid": est(0.0, 0.3)}
    assert is_memorised({"pose_mse": est(0, 0), "evaluator_fid": est(0, 0)}, real)  # a copy
    # A frozen mean pose: smaller pose MSE than real clips (regression to the mean), far worse FID.
    assert not is_memorised({"pose_mse": est(0.5, 0.8), "evaluator_fid": est(40, 60)}, real)
    # Real-like as a set but no closer to each reference than real clips: a good model, not a copy.
    assert not is_memorised({"pose_mse": est(1.2, 1.9), "evaluator_fid": est(0.1, 0.4)}, real)


@pytest.mark.slow
def test_stickbench_validity_targets(tmp_path):
    table = validate_metrics("standard", cache_dir=tmp_path, n_boot=300)
    assert list(table["metrics"]) == list(COLUMNS)
    assert table["metrics"]["action_accuracy_temporal"] is True and table["metrics"]["evaluator_diversity"] is None
    assert table["below_real"]["copy"] == [] and "copy" in table["flags"]
    for family in FAMILIES[2:]:
        below = set(table["below_real"][family])
        assert "r_precision_top1" in below, family
        # FID compares sets: real clips answering the wrong prompt form a set of real clips (docs/metrics.md).
        assert family == "wrong_action" or "evaluator_fid" in below, family
        assert len(below - {"r_precision_top1", "r_precision_top3", "evaluator_fid"}) >= 1, family
        assert family not in table["flags"], family


def test_the_retrieval_lookup_treats_keys_within_1e9_as_tied_and_takes_the_first():
    # a runner-up closer by 1e-11 than the first key is a tie (so BLAS's summation order cannot
    # flip the lookup); a key clearly closer still wins
    rng = np.random.default_rng(0)
    query = rng.standard_normal((1, 64))
    query /= np.linalg.norm(query)
    near = query[0] * 0.9
    keys = np.stack([near, near * (1 + 1e-11), rng.standard_normal(64) * 0.01])
    assert _nearest(query, keys).tolist() == [0]
    assert _nearest(query, np.stack([near, query[0]])).tolist() == [1]
