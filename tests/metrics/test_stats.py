"""Bootstrap confidence intervals: seeded, shrinking with n, honest about undefined values and bias."""

import json

import numpy as np
import pytest

from stickeval.errors import MetricInputError
from stickeval.metrics.stats import (
    Estimate,
    bootstrap_by_group,
    bootstrap_ci,
    resampling_counts,
    set_estimate,
)


def test_mean_n_and_std_are_those_of_the_values():
    values = np.array([1.0, 2.0, 4.0, 7.0])
    est = bootstrap_ci(values)
    assert est.mean == 3.5 and est.n == 4 and est.n_undefined == 0
    assert est.std == pytest.approx(np.sqrt(((1 - 3.5) ** 2 + 1.5**2 + 0.5**2 + 3.5**2) / 3))
    assert est.ci95[0] <= est.mean <= est.ci95[1]


def test_same_seed_gives_identical_intervals_and_another_seed_does_not():
    values = np.random.default_rng(0).standard_normal(300)
    assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
    assert bootstrap_ci(values, seed=7).ci95 != bootstrap_ci(values, seed=8).ci95


def test_interval_shrinks_with_n():
    rng = np.random.default_rng(1)
    widths = [np.diff(bootstrap_ci(rng.standard_normal(n)).ci95)[0] for n in (20, 200, 2000)]
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] / widths[2] > 5  # 1/sqrt(n): a factor 10 expected


def test_interval_of_a_large_sample_matches_the_normal_approximation():
    values = np.random.default_rng(2).exponential(size=5000)
    est = bootstrap_ci(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert est.ci95[0] == pytest.approx(values.mean() - half, abs=0.15 * half)
    assert est.ci95[1] == pytest.approx(values.mean() + half, abs=0.15 * half)


def test_constant_values_and_a_single_value_have_a_point_interval():
    assert bootstrap_ci(np.full(10, 0.25)) == Estimate(0.25, (0.25, 0.25), 10, 0.0)
    assert bootstrap_ci(np.array([3.0])) == Estimate(3.0, (3.0, 3.0), 1, 0.0)


def test_undefined_values_are_refused_unless_dropped_and_then_counted():
    values = np.array([0.5, np.nan, 0.7, np.nan])
    with pytest.raises(MetricInputError, match="2 of 4 values are undefined"):
        bootstrap_ci(values)
    est = bootstrap_ci(values, drop_undefined=True)
    assert est.mean == pytest.approx(0.6) and est.n == 2 and est.n_undefined == 2


def test_all_undefined_is_reported_as_null_not_as_a_number():
    est = bootstrap_ci(np.full(5, np.nan), drop_undefined=True)
    assert not est.defined
    assert est.to_dict() == {"mean": None, "ci95": [None, None], "n": 0, "std": None, "n_undefined": 5, "bias": None}


def test_empty_and_infinite_values_are_refused():
    with pytest.raises(MetricInputError, match="non-empty 1-D array"):
        bootstrap_ci(np.array([]))
    with pytest.raises(MetricInputError, match="1 values are infinite"):
        bootstrap_ci(np.array([1.0, np.inf]))


def test_resampling_counts_draw_the_same_resamples_as_index_resampling():
    counts = resampling_counts(7, 50, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    expected = np.stack([np.bincount(rng.integers(0, 7, size=7), minlength=7) for _ in range(50)])
    assert np.array_equal(counts, expected) and np.all(counts.sum(axis=1) == 7)


def test_breakdown_by_group_matches_each_groups_own_estimate():
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    groups = ["walk", "run", "walk", "run", "run"]
    out = bootstrap_by_group(values, groups, seed=2)
    assert list(out) == ["run", "walk"]
    assert out["run"] == bootstrap_ci(np.array([0.0, 1.0, 0.0]), seed=2)
    assert out["walk"].mean == 1.0
    with pytest.raises(MetricInputError, match="one group name per value: 2 names for 5 values"):
        bootstrap_by_group(values, ["a", "b"])


# The replicates 3 + k/10, k = -50..50: median 3, percentiles 2.5 / 97.5 at 3 -/+ 4.75 (linear interpolation).
SPREAD = 3.0 + np.arange(-50, 51) / 10


def test_set_interval_contains_the_full_set_value_and_reaches_down_by_the_resampling_bias():
    est = set_estimate(2.0, SPREAD, 40)
    assert est.bias == pytest.approx(1.0)  # median 3 - point 2
    # at this size: 2 -/+ 4.75; the bias-corrected interval is 1 lower, so the low end is 2 - 4.75 - 1
    assert est.ci95 == pytest.approx((-3.75, 6.75))
    assert est.mean == 2.0 and est.n == 40 and est.std is None
    assert set_estimate(2.0, SPREAD, 40, floor=0.0).ci95 == pytest.approx((0.0, 6.75))


def test_a_negative_resampling_bias_widens_the_set_interval_upward():
    est = set_estimate(4.0, SPREAD, 40)
    assert est.bias == pytest.approx(-1.0)
    assert est.ci95 == pytest.approx((4.0 - 4.75, 4.0 + 4.75 + 1.0))


def test_unbiased_replicates_give_the_plain_percentile_interval():
    est = set_estimate(3.0, SPREAD, 40)
    assert est.bias == 0.0
    assert est.ci95 == pytest.approx(tuple(np.percentile(SPREAD, [2.5, 97.5])))


def test_undefined_replicates_are_left_out_and_none_defined_is_refused():
    with_nan = np.concatenate([SPREAD, np.full(7, np.nan)])
    assert set_estimate(2.0, with_nan, 40) == set_estimate(2.0, SPREAD, 40)
    with pytest.raises(MetricInputError, match="no bootstrap resample gave a defined value"):
        set_estimate(2.0, np.full(3, np.nan), 40)
    with pytest.raises(MetricInputError, match="the statistic is nan on the full sets"):
        set_estimate(float("nan"), SPREAD, 40)


def test_squared_norm_of_a_mean_keeps_its_estimate_in_the_interval_and_reaches_the_true_value():
    # |mean|^2 of n standard-normal vectors in d dimensions: the truth is 0, the estimate is biased by d / n
    # (the FD's mean term in miniature), and every resample adds about d / n again.
    d, n, n_boot = 20, 100, 400
    x = np.random.default_rng(11).standard_normal((n, d))

    def stat(a):
        return float(np.sum(a.mean(axis=0) ** 2))

    rng = np.random.default_rng(3)
    replicates = np.array([stat(x[rng.integers(0, n, size=n)]) for _ in range(n_boot)])
    est = set_estimate(stat(x), replicates, n)
    plain = np.percentile(replicates, [2.5, 97.5])
    assert not plain[0] <= est.mean <= plain[1]
    assert est.ci95[0] <= est.mean <= est.ci95[1]
    assert est.ci95[0] <= 0.0
    assert est.bias == pytest.approx(d / n, rel=0.3)


def test_estimates_with_a_bias_are_json_ready():
    est = set_estimate(2.0, SPREAD, 40, floor=0.0)
    doc = json.loads(json.dumps(est.to_dict()))
    assert doc["bias"] == pytest.approx(1.0) and doc["ci95"] == pytest.approx([0.0, 6.75]) and doc["std"] is None
    assert bootstrap_ci(np.array([1.0, 2.0])).to_dict()["bias"] is None
