"""Fréchet distance and diversity on standardised motion features."""

import itertools

import numpy as np
import pytest

from stickeval.data.stickbench import load_suite
from stickeval.errors import MetricInputError
from stickeval.metrics import distribution
from stickeval.metrics.distribution import _frechet as frechet_distance_gaussians  # the closed form every FD ends in
from stickeval.metrics.distribution import (
    diversity,
    diversity_ci,
    diversity_features,
    frechet_distance,
    frechet_distance_ci,
    frechet_distance_features,
)
from stickeval.metrics.features import motion_features
from stickeval.metrics.stats import resampling_counts, set_estimate


def explicit_bootstrap(statistic, *arrays, n_boot, seed):
    """The slow route the fast intervals must equal: the statistic refitted on rows drawn by index
    (the same rows of every array), as `numpy.random.default_rng(seed)` draws them."""
    n = len(arrays[0])
    rng = np.random.default_rng(seed)
    replicates = [statistic(*(a[idx] for a in arrays)) for idx in (rng.integers(0, n, size=n) for _ in range(n_boot))]
    return set_estimate(statistic(*arrays), np.array(replicates), n)


def trace_only_fid(mu1, s1, mu2, s2):
    """The original `compute_frechet_distance` (a trace-only formula, not a Fréchet distance), written out here to compare against."""
    t1, t2 = np.trace(s1), np.trace(s2)
    return max(float(np.sum((mu1 - mu2) ** 2) + t1 + t2 - 2 * np.sqrt(t1 * t2)), 0.0)


def test_gaussians_with_swapped_variances_are_two_apart_where_the_trace_only_fid_sees_none():
    mu, a, b = np.zeros(2), np.diag([4.0, 1.0]), np.diag([1.0, 4.0])
    # Tr(A + B) - 2 Tr((AB)^1/2) = 10 - 2 (2 + 2)
    assert frechet_distance_gaussians(mu, a, mu, b) == pytest.approx(2.0)
    assert trace_only_fid(mu, a, mu, b) == 0.0


def test_rotated_covariance_is_detected_with_a_full_matrix():
    rot = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    a = np.diag([9.0, 1.0])
    b = rot @ a @ rot.T
    # Independently: the trace of the matrix square root of A^1/2 B A^1/2, via its eigenvalues.
    ra = np.diag([3.0, 1.0])
    expected = 20.0 - 2 * np.sqrt(np.linalg.eigvalsh(ra @ b @ ra)).sum()
    assert frechet_distance_gaussians(np.zeros(2), a, np.zeros(2), b) == pytest.approx(expected)
    assert expected > 1.0


def test_mean_shift_alone_scores_its_squared_length():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert frechet_distance_gaussians(np.array([3.0, 4.0]), cov, np.zeros(2), cov) == pytest.approx(25.0)


def test_feature_sets_with_equal_total_variance_but_different_correlation_are_told_apart():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4000, 2))
    correlated = np.column_stack([x[:, 0], 0.9 * x[:, 0] + np.sqrt(1 - 0.81) * x[:, 1]])
    assert frechet_distance_features(correlated, x) > 0.3
    assert trace_only_fid(correlated.mean(0), np.cov(correlated.T), x.mean(0), np.cov(x.T)) < 0.01


def test_set_against_itself_scores_zero(clips):
    ref, lens = clips.motion, clips.lengths
    assert frechet_distance(ref, ref.copy(), lens) == pytest.approx(0.0, abs=1e-8)


def test_ordering_copy_shifted_other_frozen_noise(variants, clips):
    ref, lens = clips.motion, clips.lengths
    fd = {k: frechet_distance(v, ref, lens) for k, v in variants.items()}
    # As sets, "other" (clips of other actions drawn from the same pool) and "shifted" are both near
    # the reference; which of the two is nearer depends on the source.
    assert fd["copy"] < min(fd["shifted"], fd["other"])
    assert max(fd["shifted"], fd["other"]) < fd["frozen"] < fd["noise"]
    assert fd["shuffled"] > 5 * fd["other"]


def test_two_halves_of_the_real_track_are_far_closer_than_noise_or_frozen_clips(realmotion):
    sel = np.flatnonzero((realmotion["dataset"] == "dataset-2") & (realmotion["length"] >= 60))[::4]
    motion, lens = realmotion["motion"][sel], realmotion["length"][sel]
    half_a, half_b = slice(0, None, 2), slice(1, None, 2)
    real = frechet_distance(motion[half_a], motion[half_b], lens[half_a], lens[half_b])
    frozen = np.repeat(motion[half_a][:, :1], motion.shape[1], axis=1)
    assert real < 0.1 * frechet_distance(frozen, motion[half_b], lens[half_a], lens[half_b])


def test_stickbench_train_and_test_splits_are_far_closer_than_frozen_clips():
    train, test = load_suite("quick", split="train"), load_suite("quick", split="test")
    between = frechet_distance(train.motion, test.motion, train.lengths, test.lengths)
    frozen = np.repeat(train.motion[:, :1], train.motion.shape[1], axis=1)
    assert between < 0.1 * frechet_distance(frozen, test.motion, train.lengths, test.lengths)


def test_diversity_of_identical_clips_is_zero(clips):
    ref, lens = clips.motion, clips.lengths
    same = np.repeat(ref[:1], len(ref), axis=0)
    assert diversity(same, ref, lens) == pytest.approx(0.0, abs=1e-6)
    assert diversity(ref, ref, lens) > 1.0


@pytest.mark.parametrize("clips", ["real"], indirect=True)
def test_diversity_of_independent_noise_is_far_above_real_motion(variants, clips):
    # Not so on StickBench: its 17 actions spread the reference features (the unit) far wider.
    ref, lens = clips.motion, clips.lengths
    assert diversity(variants["noise"], ref, lens) > 2 * diversity(ref, ref, lens)


def test_diversity_is_the_mean_pairwise_distance_of_reference_standardised_features():
    rng = np.random.default_rng(3)
    feats, ref = rng.standard_normal((6, 4)), 2.0 + 3.0 * rng.standard_normal((10, 4))
    z = (feats - ref.mean(0)) / ref.std(0)
    expected = np.mean([np.linalg.norm(z[i] - z[j]) for i, j in itertools.combinations(range(6), 2)])
    assert diversity_features(feats, ref) == pytest.approx(expected)


@pytest.mark.parametrize("clips", ["stickbench"], indirect=True)
def test_fd_and_diversity_intervals_are_seeded_around_the_full_set_values(clips, variants):
    f_gen = motion_features(variants["shifted"], clips.lengths)
    f_ref = motion_features(clips.motion, clips.lengths)
    for ci, value in ((frechet_distance_ci, frechet_distance_features), (diversity_ci, diversity_features)):
        a = ci(f_gen, f_ref, n_boot=200, seed=4)
        assert a == ci(f_gen, f_ref, n_boot=200, seed=4)
        assert a != ci(f_gen, f_ref, n_boot=200, seed=5)
        assert a.mean == pytest.approx(value(f_gen, f_ref), rel=1e-12)
        assert a.n == len(clips.motion) and a.std is None and a.ci95[0] < a.ci95[1]


def test_fd_interval_is_the_same_to_the_last_digit_whatever_the_number_of_bootstrap_threads(monkeypatch):
    rng = np.random.default_rng(3)
    gen, ref = rng.standard_normal((300, 40)), 0.5 + rng.standard_normal((300, 40))
    estimates = []
    for workers in (1, 3, 8):
        monkeypatch.setattr(distribution, "replicate_workers", lambda workers=workers: workers)
        estimates.append(frechet_distance_ci(gen, ref, n_boot=100, seed=1))
    assert estimates[0] == estimates[1] == estimates[2]


@pytest.mark.parametrize("paired", [True, False])
def test_batched_fd_replicates_equal_the_per_replicate_definition(monkeypatch, paired):
    # 9 features: resamples of 12 or 14 reference rows hold 6 to 11 distinct rows, so both routes run (the
    # stacked Cholesky one, and the low-rank one for replicates with fewer distinct rows than features);
    # chunks of 5 put low-rank and full-rank replicates side by side. Both must equal `_fd` on each
    # replicate's counts, the definition, up to float round-off: about 1e-8 here, where a resample of
    # 9 to 10 distinct rows has a (nearly) singular covariance and the trace term takes square roots
    # of round-off eigenvalues (the same effect as in the test below).
    monkeypatch.setattr(distribution, "_CHUNK", 5)
    rng = np.random.default_rng(11)
    z, z_ref = 0.3 + rng.standard_normal((14, 9)), rng.standard_normal((14 if paired else 12, 9))
    counts = resampling_counts(14, 40, np.random.default_rng(2))
    counts_ref = counts if paired else resampling_counts(12, 40, np.random.default_rng(3))
    low_rank = np.count_nonzero(counts_ref, axis=1) < 9
    assert low_rank.any() and not low_rank.all()
    batched = distribution._fd_replicates(z, z_ref, counts, counts_ref)
    one_by_one = [distribution._fd(z, z_ref, w, w_ref) for w, w_ref in zip(counts, counts_ref)]
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-7)


def test_batched_fd_replicates_of_well_conditioned_sets_equal_the_definition_to_round_off():
    rng = np.random.default_rng(5)
    z, z_ref = rng.standard_normal((300, 40)), 0.5 + rng.standard_normal((300, 40))
    counts = resampling_counts(300, 30, np.random.default_rng(4))
    batched = distribution._fd_replicates(z, z_ref, counts, counts)
    np.testing.assert_allclose(batched, [distribution._fd(z, z_ref, w, w) for w in counts], rtol=1e-12)


def test_batched_fd_replicates_fall_back_where_a_reference_covariance_is_singular():
    # A constant reference feature makes every reference covariance singular (no Cholesky factor):
    # the stack then takes `_frechet`'s symmetric-square-root route, pair by pair, whose square roots
    # of round-off eigenvalues agree to about 1e-8.
    rng = np.random.default_rng(12)
    z, z_ref = rng.standard_normal((60, 4)), rng.standard_normal((60, 4))
    z_ref[:, 2] = 0.0
    counts = resampling_counts(60, 20, np.random.default_rng(4))
    batched = distribution._fd_replicates(z, z_ref, counts, counts)
    np.testing.assert_allclose(batched, [distribution._fd(z, z_ref, w, w) for w in counts], rtol=1e-7)


def test_fast_fd_interval_equals_refitting_on_explicitly_resampled_rows():
    rng = np.random.default_rng(5)
    gen, ref = rng.standard_normal((30, 5)), 1.0 + 2.0 * rng.standard_normal((30, 5))
    mu, sd = ref.mean(0), ref.std(0)  # the unit: the full reference set
    z, z_ref = (gen - mu) / sd, (ref - mu) / sd

    def refit(a, b):
        return frechet_distance_gaussians(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))

    slow = explicit_bootstrap(refit, z, z_ref, n_boot=40, seed=2)
    fast = frechet_distance_ci(gen, ref, n_boot=40, seed=2)
    assert fast.mean == pytest.approx(slow.mean) and np.allclose(fast.ci95, slow.ci95)


def test_fd_of_fewer_clips_than_features_equals_the_full_matrix_square_root():
    # 12 clips of 40 features: the reference covariance is singular, so the FD takes its low-rank
    # route (a 12 x 12 eigenproblem); the full 40 x 40 symmetric square root must give the same.
    rng = np.random.default_rng(8)
    gen, ref = rng.standard_normal((12, 40)), 0.5 + 1.5 * rng.standard_normal((12, 40))
    mu, sd = ref.mean(0), ref.std(0)
    z, z_ref = (gen - mu) / sd, (ref - mu) / sd

    def refit(a, b):
        return frechet_distance_gaussians(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))

    slow = explicit_bootstrap(refit, z, z_ref, n_boot=30, seed=4)
    fast = frechet_distance_ci(gen, ref, n_boot=30, seed=4)
    # The full route takes square roots of the ~28 round-off eigenvalues of the singular product (each
    # about sqrt(machine epsilon) ~ 1e-8): agreement to about 1e-6 of ~50.
    assert fast.mean == pytest.approx(slow.mean, rel=1e-7) and np.allclose(fast.ci95, slow.ci95, rtol=1e-7)
    assert frechet_distance_features(ref, ref) == pytest.approx(0.0, abs=1e-9)


def test_fast_diversity_interval_equals_recomputing_on_explicitly_resampled_rows():
    rng = np.random.default_rng(6)
    gen, ref = rng.standard_normal((25, 4)), rng.standard_normal((60, 4))
    z = (gen - ref.mean(0)) / ref.std(0)

    def distinct_pairs_diversity(rows, clip_ids):
        # mean distance over pairs of resampled rows that are not two copies of one clip
        i, j = np.triu_indices(len(rows), k=1)
        distinct = clip_ids[i] != clip_ids[j]
        return float(np.linalg.norm(rows[i] - rows[j], axis=1)[distinct].mean())

    slow = explicit_bootstrap(distinct_pairs_diversity, z, np.arange(25), n_boot=40, seed=1)
    fast = diversity_ci(gen, ref, n_boot=40, seed=1)
    assert fast.mean == pytest.approx(slow.mean) and np.allclose(fast.ci95, slow.ci95)
    assert fast.bias == pytest.approx(slow.bias)


def test_two_clips_have_a_point_diversity_interval_because_a_clip_drawn_twice_is_not_a_pair():
    # Resamples of two clips hold both (diversity = their distance) or one clip twice (no pair: left
    # out). Counting the copy as a pair at distance 0 would put replicates at 0 and the interval at [0, d].
    feats = np.array([[0.0, 0.0], [3.0, 4.0]])
    est = diversity_ci(feats, feats, n_boot=50, seed=0)
    assert est.mean == pytest.approx(2.0 * np.sqrt(2.0))  # standardised by themselves: (-1, -1) and (1, 1)
    assert est.ci95 == pytest.approx((est.mean, est.mean)) and est.bias == pytest.approx(0.0)


def fd_interval_record(draw, truth: float, n_draws: int) -> tuple[float, bool, np.ndarray]:
    """Share of draws whose FD interval covers `truth`, whether every interval held its estimate, mean bias - point."""
    covered, held, offsets = 0, True, []
    for k in range(n_draws):
        gen, ref = draw(np.random.default_rng(100 + k))
        est = frechet_distance_ci(gen, ref, n_boot=200, seed=k, paired=False)
        covered += est.ci95[0] <= truth <= est.ci95[1]
        held &= est.ci95[0] <= est.mean <= est.ci95[1]
        offsets.append(est.bias - (est.mean - truth))
    return covered / n_draws, held, np.array(offsets)


def test_fd_interval_covers_a_known_mean_shift_and_a_known_variance_change():
    # Reference N(0, diag(sd^2)); generated shifted by 0.5 sd on every feature (FD 3 x 0.25 in
    # standardised units), or with its first sd 1.5x (FD (1.5 - 1)^2 for diagonal Gaussians).
    sd = np.array([1.0, 2.0, 0.5])
    shifted = fd_interval_record(lambda rng: (0.5 * sd + sd * rng.standard_normal((150, 3)), sd * rng.standard_normal((150, 3))), 0.75, 40)
    wider = fd_interval_record(lambda rng: (sd * [1.5, 1, 1] * rng.standard_normal((150, 3)), sd * rng.standard_normal((150, 3))), 0.25, 40)
    for coverage, held, _ in (shifted, wider):
        assert coverage >= 0.7 and held


def test_fd_of_two_samples_of_one_gaussian_is_all_bias_and_its_interval_still_reaches_zero():
    # 10 features, 60 clips per set: the plug-in FD is about 1 where the truth is 0, the bias dwarfs the spread.
    coverage, held, offsets = fd_interval_record(lambda rng: (rng.standard_normal((60, 10)), rng.standard_normal((60, 10))), 0.0, 20)
    assert coverage >= 0.7 and held
    assert abs(offsets.mean()) < 0.3  # the bias field accounts for the plug-in's excess over the truth


def test_fd_of_two_halves_of_the_real_track_keeps_its_value_in_the_interval_and_its_bias_matches_random_halves(
    realmotion,
):
    sel = np.flatnonzero((realmotion["dataset"] == "dataset-2") & (realmotion["length"] >= 60))[::3]
    feats = motion_features(realmotion["motion"][sel], realmotion["length"][sel])
    half = len(feats) // 2
    rng = np.random.default_rng(0)
    order = rng.permutation(len(feats))
    est = frechet_distance_ci(feats[order[:half]], feats[order[half:]], n_boot=200, paired=False)
    assert est == frechet_distance_ci(feats[order[:half]], feats[order[half:]], n_boot=200, paired=False)
    assert est.ci95[0] <= est.mean <= est.ci95[1]
    assert est.ci95[0] <= max(est.mean - est.bias, 0.0)
    # Random halves of one pool share a distribution: their mean FD is the plug-in's bias at this size.
    splits = [rng.permutation(len(feats)) for _ in range(20)]
    bias_at_this_size = np.mean([frechet_distance_features(feats[p[:half]], feats[p[half:]]) for p in splits])
    assert est.bias == pytest.approx(bias_at_this_size, rel=0.35)


def test_a_singular_reference_covariance_gives_the_closed_form_fd():
    # Diagonal Gaussians: FD = |mu1 - mu2|^2 + sum (sqrt(a_k) - sqrt(b_k))^2; here b has a zero variance.
    fd = frechet_distance_gaussians(np.array([1.0, 0.0]), np.diag([4.0, 1.0]), np.zeros(2), np.diag([1.0, 0.0]))
    assert fd == pytest.approx(1.0 + (2.0 - 1.0) ** 2 + (1.0 - 0.0) ** 2)


def test_paired_fd_interval_needs_sets_of_one_size():
    rng = np.random.default_rng(7)
    with pytest.raises(MetricInputError, match="same size; got 10 and 12. Pass paired=False"):
        frechet_distance_ci(rng.standard_normal((10, 3)), rng.standard_normal((12, 3)))
    assert frechet_distance_ci(rng.standard_normal((10, 3)), rng.standard_normal((12, 3)), paired=False).n == 10


def test_sets_of_different_schemas_are_refused():
    with pytest.raises(MetricInputError, match="20 numbers per frame and reference clips 48"):
        frechet_distance(np.zeros((4, 10, 20)), np.zeros((4, 10, 48)))


def test_a_single_clip_is_not_a_distribution(figures):
    still = np.repeat(figures.standing("v1", 10)[None], 3, axis=0)
    with pytest.raises(MetricInputError, match="at least 2 clips per set; got 1 and 3"):
        frechet_distance(still[:1], still)
