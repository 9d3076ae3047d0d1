"""Aggregation: per-sample metric values become a mean with a seeded bootstrap 95% CI and n.

Every figure stickeval reports travels with its uncertainty: a mean, a 95% interval and n. Two routes:
- `bootstrap_ci`: per-sample values (pose MSE, temporal consistency, ...): the mean, and the
  2.5/97.5 percentiles of the means of `n_boot` resamples drawn with replacement;
- `set_estimate`: set-level statistics that have no per-sample value (the Fréchet distance and
  diversity of `distribution.py`, resampled with `resampling_counts`): the statistic on the full
  set, and a bias-aware percentile interval: a set statistic such as the Fréchet distance is biased
  at finite size and its resamples repeat that bias on top of it, so their raw percentiles can miss
  the full-set value altogether; the replicates' median offset from it is reported as
  `Estimate.bias`, and the interval both contains the full-set value and reaches the bias-corrected
  one.
The resampling is driven by `numpy.random.default_rng(seed)` alone, so the same values and seed
give bit-identical intervals in any process. Empty input raises; undefined values (NaN, e.g. a
robustness score of a model that ignores its text) are refused unless `drop_undefined=True`, which
drops them and counts them in `Estimate.n_undefined`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from stickeval.errors import MetricInputError

_CHUNK = 256  # bootstrap resamples drawn at a time: bounds memory at 256 x n indices


@dataclass(frozen=True)
class Estimate:
    """A reported figure: point value, 95% CI, and how many samples it rests on.

    Attributes:
        mean: the mean of the per-sample values (`bootstrap_ci`) or the statistic on the full set
            (`set_estimate`); NaN when no value was defined.
        ci95: (low, high) 95% interval: the percentile bootstrap of the mean (`bootstrap_ci`) or the
            bias-aware interval of a set statistic (`set_estimate`); (NaN, NaN) when undefined.
        n: number of (defined) samples used.
        std: standard deviation of the per-sample values (ddof=1; 0 for n=1). None for a set-level
            statistic, which has no per-sample values.
        n_undefined: samples whose value was undefined and left out.
        bias: set-level statistics only (else None): the median of the bootstrap replicates minus
            `mean`, the resampling estimate of the statistic's finite-sample bias at this set size;
            `mean - bias` estimates the statistic of the distributions the sets were drawn from.
    """

    mean: float
    ci95: tuple[float, float]
    n: int
    std: float | None
    n_undefined: int = 0
    bias: float | None = None

    @property
    def defined(self) -> bool:
        """False when every sample was undefined (then `mean` is NaN)."""
        return self.n > 0

    def to_dict(self) -> dict:
        """JSON-ready form; undefined numbers become None (JSON null), never a string or 999."""

        def num(x: float | None) -> float | None:
            return None if x is None or not np.isfinite(x) else float(x)

        return {
            "mean": num(self.mean),
            "ci95": [num(self.ci95[0]), num(self.ci95[1])],
            "n": self.n,
            "std": num(self.std),
            "n_undefined": self.n_undefined,
            "bias": num(self.bias),
        }


def bootstrap_ci(values: np.ndarray, *, n_boot: int = 2000, seed: int = 0, drop_undefined: bool = False) -> Estimate:
    """Mean of per-sample values with a seeded percentile-bootstrap 95% CI.

    Args:
        values: float [N] per-sample metric values.
        n_boot: number of bootstrap resamples (default 2000).
        seed: seed of the resampling (default 0); same values + seed -> identical interval.
        drop_undefined: leave NaN values out (counted in `n_undefined`) instead of raising.

    Returns:
        Estimate(mean, ci95, n, std, n_undefined). If every value is NaN and `drop_undefined` is set,
        mean and ci95 are NaN and n is 0.

    Raises:
        MetricInputError: `values` is empty or not 1-D, holds inf, holds NaN without
            `drop_undefined`, or `n_boot` < 1.
    """
    arr = _as_values(values)
    if n_boot < 1:
        raise MetricInputError(f"n_boot must be at least 1; got {n_boot}.")
    undefined = np.isnan(arr)
    if undefined.any() and not drop_undefined:
        raise MetricInputError(
            f"{int(undefined.sum())} of {arr.size} values are undefined (NaN); "
            "pass drop_undefined=True to report them as undefined rather than average them."
        )
    arr = arr[~undefined]
    n_undef = int(undefined.sum())
    if arr.size == 0:
        return Estimate(float("nan"), (float("nan"), float("nan")), 0, None, n_undef)
    rng = np.random.default_rng(seed)
    means = np.concatenate([arr[rng.integers(0, arr.size, size=(c, arr.size))].mean(axis=1) for c in _chunks(n_boot)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    std = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    return Estimate(float(arr.mean()), (float(lo), float(hi)), int(arr.size), std, n_undef)


def resampling_counts(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """How many times each of n samples is drawn in each of n_boot resamples with replacement.

    Draws the same random stream as n_boot successive `rng.integers(0, n, size=n)` calls, so weighted
    statistics can be checked against refitting on explicitly resampled rows.

    Returns:
        int64 [n_boot, n], each row summing to n.

    Raises:
        MetricInputError: n or n_boot below 1.
    """
    if n < 1 or n_boot < 1:
        raise MetricInputError(f"cannot bootstrap {n} samples {n_boot} times; both must be at least 1.")
    idx = rng.integers(0, n, size=(n_boot, n)) + n * np.arange(n_boot)[:, None]
    return np.bincount(idx.ravel(), minlength=n_boot * n).reshape(n_boot, n)


def set_estimate(point: float, replicates: np.ndarray, n: int, *, floor: float = -np.inf) -> Estimate:
    """Estimate of a set-level statistic from its value on the full sets and its bootstrap replicates.

    Why not the plain percentile interval: a plug-in set statistic (the Fréchet distance above all) is
    biased at finite size, and a resample (or a half-sample without replacement) adds about the same
    bias again, so the replicates sit around point + bias, not around point: on the StickBench
    reference row the FD is 0.76 while the 2.5th percentile of its replicates is 1.12. The
    bias-corrected percentile and BCa intervals measure that shift by the share of replicates below
    the point, z0 = Phi^-1(share), which is Phi^-1(0) = -inf there: they break down exactly where they
    are needed. So the shift is measured directly, as the replicates' median offset,

        bias = median(replicates) - point,

    and it gives two 95% intervals for the two things a set statistic can be read as:
    - at this size: percentiles 2.5 / 97.5 of (replicates - bias), the spread of the statistic over
      fresh sets of the same sizes, centred on `point` (which it always contains);
    - of the distributions: the same shifted once more, percentiles of (replicates - 2 bias),
      centred on `point - bias`, the bias-corrected estimate.
    `ci95` is the smallest interval holding both, floored at `floor`, so it contains the reported
    value and covers the population value: with bias 0 it is the percentile interval, with bias b > 0
    it reaches b further down. For a set statistic that can be 0, such as the FD of two sets from one
    distribution, it then reaches 0 instead of excluding it (the test split against the train split).

    Args:
        point: the statistic on the full sets.
        replicates: float [B] the statistic on B resampled sets; NaN replicates (no value defined on
            that resample) are left out.
        n: the size the figure rests on (reported as `Estimate.n`).
        floor: the smallest value the statistic can take (0 for a distance); the interval is clipped
            to it (default: no floor).

    Returns:
        Estimate(mean = point, ci95, n, std = None, bias).

    Raises:
        MetricInputError: the statistic is not finite on the full sets, or no replicate is defined.
    """
    if not np.isfinite(point):
        raise MetricInputError(f"the statistic is {point} on the full sets; it cannot be bootstrapped.")
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    if reps.size == 0:
        raise MetricInputError("no bootstrap resample gave a defined value; raise n_boot or use larger sets.")
    bias = float(np.median(reps) - point)
    lo, hi = np.percentile(reps - bias, [2.5, 97.5])  # at this size; point is its median
    lo, hi = lo - max(bias, 0.0), hi - min(bias, 0.0)  # widened to the bias-corrected interval
    # min/max: float round-off in reps - bias must not leave point outside
    ci = (max(float(min(lo, point)), floor), float(max(hi, point)))
    return Estimate(float(point), ci, int(n), None, 0, bias)


def bootstrap_by_group(
    values: np.ndarray,
    groups: Sequence[str],
    *,
    n_boot: int = 2000,
    seed: int = 0,
    drop_undefined: bool = False,
) -> dict[str, Estimate]:
    """`bootstrap_ci` of the values of each group (per-action or per-noise breakdowns).

    Args:
        values: float [N] per-sample values.
        groups: N group names (e.g. the action label of each sample).
        n_boot, seed, drop_undefined: as `bootstrap_ci`; every group uses the same seed.

    Returns:
        {group: Estimate}, groups in sorted order.

    Raises:
        MetricInputError: `groups` does not have one name per value, or as `bootstrap_ci`.
    """
    arr = _as_values(values)
    names = np.asarray(list(groups), dtype=str)
    if names.shape != arr.shape:
        raise MetricInputError(f"need one group name per value: {names.size} names for {arr.size} values.")
    return {str(g): bootstrap_ci(arr[names == g], n_boot=n_boot, seed=seed, drop_undefined=drop_undefined) for g in np.unique(names)}


def _as_values(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise MetricInputError(f"expected a non-empty 1-D array of per-sample values; got shape {arr.shape}.")
    if np.isinf(arr).any():
        raise MetricInputError(f"{int(np.isinf(arr).sum())} values are infinite; a metric must return finite values or NaN.")
    return arr


def _chunks(total: int) -> list[int]:
    return [min(_CHUNK, total - start) for start in range(0, total, _CHUNK)]
