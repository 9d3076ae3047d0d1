"""Distribution metrics: how far the set of rollouts is from the set of references, and how varied it is.

Both work on `features.motion_features` standardised by the *reference* set's per-feature mean and
standard deviation, so every feature counts in units of the real spread and none dominates by its
scale (the original's raw `float(T)` feature did).

- Fréchet distance: FD = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2)) of Gaussians fitted to the
  two feature sets, with the full matrix square root. The original's "FID" replaced the last term by
  2 sqrt(Tr S_g Tr S_r), which is 0 for any two sets of equal means and equal total variance
  whatever their covariance.
- Diversity: mean Euclidean distance between all pairs of clips of one set (exact, no sampling).
Run the reference set through the same functions (`frechet_distance(ref_a, ref_b)`,
`diversity(ref, ref)`) to get the "real" row every figure is read against. For results with 95% CIs,
compute the features once and call `frechet_distance_ci` / `diversity_ci`: they bootstrap from row
counts (1,000 resamples of 1,178 clips of 114 features: about 1.4 s and 0.1 s of one CPU core) and report, beside
the full-set value, the resampling estimate of its finite-sample bias and an interval that allows for
it (`stats.set_estimate` says why: the plug-in FD is biased at finite size).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from stickeval.errors import MetricInputError
from stickeval.metrics._threads import one_thread, workers
from stickeval.metrics.features import motion_features
from stickeval.metrics.stats import Estimate, resampling_counts, set_estimate

STD_FLOOR = 1e-6  # reference std below this: the feature is constant there and is not rescaled
_ROWS = 1024  # diversity: rows of the pairwise-distance matrix computed at a time
_CHUNK = 64  # FD bootstrap: replicates computed together; fixed, so no figure depends on the thread count


def frechet_distance(
    generated: np.ndarray,
    reference: np.ndarray,
    lengths: np.ndarray | None = None,
    reference_lengths: np.ndarray | None = None,
) -> float:
    """Fréchet distance between the generated and reference sets of clips, on standardised features.

    Units: squared standard deviations of the reference features (dimensionless); range [0, inf),
    lower is better. A set against itself scores 0; two halves of one real dataset score small
    (finite-sample noise); frozen clips or white noise score far higher. Estimated from finite sets, it
    is biased upward when a set has fewer clips than features: compare numbers from sets of one size.

    Args:
        generated: float [N, T, D] rollouts.
        reference: float [M, T', D] reference clips.
        lengths: int [N] real frames per generated clip (None: all T).
        reference_lengths: int [M] real frames per reference clip (None: `lengths` when M == N and
            T' == T, i.e. paired sets, else all T').

    Returns:
        The distance, a float.

    Raises:
        MetricInputError: a set has fewer than 2 clips, the schemas differ, or bad clips (see
            `features.motion_features`).
    """
    f_g, f_r = _feature_pair(generated, reference, lengths, reference_lengths)
    return frechet_distance_features(f_g, f_r)


def diversity(
    generated: np.ndarray,
    reference: np.ndarray,
    lengths: np.ndarray | None = None,
    reference_lengths: np.ndarray | None = None,
) -> float:
    """Mean pairwise Euclidean distance between the generated clips, on features standardised by the reference.

    diversity = mean over pairs i < j of |z_i - z_j|, z = (features - mu_ref) / sd_ref. Units:
    standard deviations of the reference features; range [0, inf); neither direction is better:
    closer to the reference set's own diversity (`diversity(reference, reference)`) is better.
    Identical clips (a model that ignores its text) score 0; independent white-noise clips score far
    above real motion (the original's diversity gives them 0.014: its raw clip length dominates).

    Args / Raises: as `frechet_distance`.

    Returns:
        The diversity of the generated set, a float.
    """
    f_g, f_r = _feature_pair(generated, reference, lengths, reference_lengths)
    return diversity_features(f_g, f_r)


def frechet_distance_features(features: np.ndarray, reference_features: np.ndarray) -> float:
    """Fréchet distance between two feature sets [N, F] and [M, F], standardised by the second.

    The square-root term is computed without a non-symmetric matrix square root:
    Tr (S_g S_r)^(1/2) = sum of sqrt(eigenvalues of L' S_g L), S_r = L L' (Cholesky, or the symmetric
    square root when S_r is singular); the product is symmetric positive semi-definite, so this is
    exact and real. Covariances use ddof = 1 (as `np.cov`).

    Raises:
        MetricInputError: a set has fewer than 2 rows or the feature counts differ.
    """
    z, z_ref = _standardise(features, reference_features)
    with one_thread():
        return _fd(z, z_ref, None, None)


def diversity_features(features: np.ndarray, reference_features: np.ndarray) -> float:
    """Mean pairwise distance of the rows of `features` [N, F], standardised by `reference_features`.

    Raises:
        MetricInputError: a set has fewer than 2 rows or the feature counts differ.
    """
    z, _ = _standardise(features, reference_features)
    n = len(z)
    total = 0.0
    with one_thread():
        for start in range(0, n, _ROWS):  # row blocks keep memory at _ROWS x N distances
            total += _distances(z, np.arange(start, min(start + _ROWS, n))).sum()
    return float(total / (n * (n - 1)))


def frechet_distance_ci(
    features: np.ndarray, reference_features: np.ndarray, *, n_boot: int = 1000, seed: int = 0, paired: bool = True
) -> Estimate:
    """`frechet_distance_features` with a seeded 95% CI and the resampling estimate of its bias.

    Range [0, inf), lower is better (as `frechet_distance`); the results' reference row is the
    held-out references against the train references (`paired=False`).

    The plug-in FD is biased upward at finite size (the fitted means and covariances carry sampling
    noise that the distance counts as mismatch: about |F| / N for the mean term alone), and a
    bootstrap replicate adds that bias a second time, so the plain percentile interval can exclude
    the full-set value (StickBench reference row: FD 0.76, percentile interval [1.12, 2.97]).
    `stats.set_estimate` measures the replicates' median offset (reported as `bias`) and returns an
    interval that contains the full-set value and reaches down to the bias-corrected one; `mean -
    bias` estimates the FD of the distributions the sets come from (below 0, i.e. 0, for the test vs
    train references of StickBench: their whole FD is finite-sample bias). Floored at 0.

    Each replicate refits both Gaussians to rows drawn with replacement (the same rows of both sets
    when `paired`, as generated clip i and its reference i); the standardisation stays that of the
    full reference set, a fixed unit. Replicates are computed from row counts, so no resampled copy is
    made, in fixed chunks of stacked matrices (`_fd_replicates`) on one BLAS thread each, spread over
    the CPUs the process may use (`replicate_workers`): every chunk is the same computation whatever
    the number of workers, so the numbers are too. Memory: N x F (F + 1) / 2 floats per set (62 MB
    for 1,178 clips of 114 features).

    Args:
        features: [N, F] generated-set features.
        reference_features: [M, F] reference-set features.
        n_boot: resamples (default 1000; for N = M = 1,178 and F = 114 about 1.4 s of one core).
        seed: seed of the resampling (default 0).
        paired: resample both sets with the same rows (needs N == M); False resamples each on its own.

    Returns:
        Estimate(mean = FD on the full sets, ci95, n = N, std = None, bias).

    Raises:
        MetricInputError: a set has fewer than 2 rows, the feature counts differ, or paired sets
            differ in size.
    """
    z, z_ref = _standardise(features, reference_features)
    if paired and len(z) != len(z_ref):
        raise MetricInputError(f"paired sets must have the same size; got {len(z)} and {len(z_ref)}. Pass paired=False for unrelated sets.")
    rng = np.random.default_rng(seed)
    counts = resampling_counts(len(z), n_boot, rng)
    counts_ref = counts if paired else resampling_counts(len(z_ref), n_boot, rng)
    with one_thread():
        replicates = _fd_replicates(z, z_ref, counts, counts_ref)
        point = _fd(z, z_ref, None, None)
    return set_estimate(point, replicates, len(z), floor=0.0)


def replicate_workers() -> int:
    """Threads for the Fréchet-distance bootstrap: the CPUs this process may run on, at most 16 (`_threads.workers`)."""
    return workers(16)


def _fd_replicates(z: np.ndarray, z_ref: np.ndarray, counts: np.ndarray, counts_ref: np.ndarray) -> np.ndarray:
    """`_fd` of every bootstrap replicate [B]: row i of z counted counts[b, i] times (of z_ref, counts_ref).

    Per replicate, fitting two Gaussians and a 114 x 114 eigenproblem is a millisecond of small numpy
    calls, and on many threads the interpreter between those calls serialised them (the GIL). So the
    replicates go in chunks of `_CHUNK`: every mean and covariance of a chunk from two GEMMs per set
    (`_Moments`), then one stacked Cholesky, product and eigenvalue call (`_frechet_stack`), all of which
    release the GIL, and the chunks run side by side on `replicate_workers` threads. Replicates whose
    reference resample holds fewer distinct rows than features keep `_fd`'s exact low-rank route, one by
    one. The chunks are fixed by the counts alone, so the numbers do not depend on the number of threads;
    they equal `_fd`'s per-replicate values up to float round-off (tested). The caller limits BLAS threads.
    """
    low_rank = np.count_nonzero(counts_ref, axis=1) < z_ref.shape[1]
    full, low = np.flatnonzero(~low_rank), np.flatnonzero(low_rank)
    chunks = [full[start : start + _CHUNK] for start in range(0, len(full), _CHUNK)]
    moments, moments_ref = (_Moments(z), _Moments(z_ref)) if chunks else (None, None)

    def stack(rows: np.ndarray) -> np.ndarray:
        return _frechet_stack(*moments.gaussians(counts[rows]), *moments_ref.gaussians(counts_ref[rows]))

    replicates = np.empty(len(counts))
    with ThreadPoolExecutor(replicate_workers()) as pool:
        for rows, fd in zip(chunks, pool.map(stack, chunks)):
            replicates[rows] = fd
        replicates[low] = list(pool.map(lambda b: _fd(z, z_ref, counts[b], counts_ref[b]), low, chunksize=32))
    return replicates


class _Moments:
    """A standardised set [N, F] ready for resampling: its rows centred on their mean, and each row's
    products of pairs of features (the upper triangle, N x F (F + 1) / 2), so that the Gaussians of
    any number of resamples are two matrix products by their row counts."""

    def __init__(self, z: np.ndarray):
        f = z.shape[1]
        self.centre = z.mean(axis=0)
        self.rows = z - self.centre
        self.upper = np.triu_indices(f)
        self.products = np.empty((len(z), len(self.upper[0])))
        start = 0
        for i in range(f):  # row-major upper triangle: (i, i), (i, i + 1), ..., (i, f - 1)
            np.multiply(self.rows[:, i : i + 1], self.rows[:, i:], out=self.products[:, start : start + f - i])
            start += f - i
        packed = np.empty((f, f), dtype=np.intp)  # the position of entry (i, j) in a packed upper triangle
        packed[self.upper] = packed.T[self.upper] = np.arange(len(self.upper[0]))
        self.unpack = packed.ravel()

    def gaussians(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Means [B, F] and covariances (ddof 1) [B, F, F] of the rows resampled with counts [B, N].

        With c_i the centred rows, w the counts (n = sum w) and d = sum w_i c_i / n the resample's
        mean offset, the covariance is (sum w_i c_i c_i' - n d d') / (n - 1). Centring on the full set's
        mean first keeps the subtraction free of cancellation: d is of the order of the sampling noise.
        """
        w = counts.astype(np.float64)
        n = w.sum(axis=1)[:, None]
        shift = w @ self.rows / n
        i, j = self.upper
        packed = (w @ self.products - n * shift[:, i] * shift[:, j]) / (n - 1)
        f = self.rows.shape[1]
        return self.centre + shift, packed[:, self.unpack].reshape(len(w), f, f)


def _frechet_stack(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """`_frechet` of B pairs of Gaussians at once: means [B, F], covariances [B, F, F] -> [B].

    The Cholesky route of `_frechet`, each step one stacked call (LAPACK and BLAS matrix by matrix,
    outside the GIL). If a reference covariance of the stack has no Cholesky factor (singular), every
    pair of the stack takes `_frechet` itself, which falls back to the symmetric square root.
    """
    try:
        root = np.linalg.cholesky(s2)
    except np.linalg.LinAlgError:
        return np.array([_frechet(*pair) for pair in zip(mu1, s1, mu2, s2)])
    cross = np.swapaxes(root, 1, 2) @ s1 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(cross), 0.0, None)).sum(axis=1)
    traces = np.trace(s1, axis1=1, axis2=2) + np.trace(s2, axis1=1, axis2=2)
    return np.maximum(np.sum((mu1 - mu2) ** 2, axis=1) + traces - 2.0 * trace_sqrt, 0.0)


def diversity_ci(features: np.ndarray, reference_features: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """`diversity_features` with a seeded 95% CI over the generated clips.

    Range [0, inf); neither direction is better: closer to the reference row (the reference clips'
    own diversity, `diversity_ci(f_ref, f_ref)`) is better (as `diversity`).

    A replicate is the mean distance between the *distinct* clips of a resample: with row counts c,
    sum_{i != j} c_i c_j D_ij / sum_{i != j} c_i c_j = c'Dc / (N^2 - |c|^2). Counting a clip drawn
    twice as a pair at distance 0 (the mean over all pairs of the resampled set, c'Dc / (N (N - 1)))
    would shrink every replicate by (N - 1) / N on average: two clips drawn from a distribution of
    motions are never the same clip. A resample holding one distinct clip has no pair and is left
    out. The interval is `stats.set_estimate`'s (`bias` is close to 0 here, so it is close to the
    percentile interval). The standardisation is that of the full reference set. Memory: N x N
    distances.

    Args:
        features: [N, F] features of the set whose diversity is measured.
        reference_features: [M, F] reference features that set the unit.
        n_boot: resamples (default 1000).
        seed: seed of the resampling (default 0).

    Returns:
        Estimate(mean = diversity of the full set, ci95, n = N, std = None, bias).

    Raises:
        MetricInputError: a set has fewer than 2 rows or the feature counts differ.
    """
    z, _ = _standardise(features, reference_features)
    n = len(z)
    with one_thread():
        dist = _distances(z, np.arange(n))
        counts = resampling_counts(n, n_boot, np.random.default_rng(seed)).astype(np.float64)
        pair_sums = np.einsum("bi,bi->b", counts @ dist, counts)  # the diagonal of dist is exactly 0
    distinct_pairs = n * n - np.einsum("bi,bi->b", counts, counts)
    replicates = np.full(n_boot, np.nan)
    np.divide(pair_sums, distinct_pairs, out=replicates, where=distinct_pairs > 0)
    return set_estimate(dist.sum() / (n * (n - 1)), replicates, n, floor=0.0)


def _frechet(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, s1) and N(mu2, s2), clipped at 0 against
    round-off: |mu1 - mu2|^2 + Tr(s1) + Tr(s2) - 2 Tr((s1 s2)^(1/2)). The caller limits BLAS threads.

    Tr((s1 s2)^(1/2)) is the sum of sqrt(eigenvalues of L' s1 L) with s2 = L L' (Cholesky; the two
    products are similar matrices), or of R s1 R with R = s2^(1/2) from a symmetric eigendecomposition
    when s2 is singular. Cholesky is the common case and 15x cheaper than the eigendecomposition for
    114 features (the bootstrap runs it 1,000 times, stacked: `_frechet_stack`). The two routes agree
    to ~1e-7 (absolute) on near-singular covariances, where the square roots of the product's tiniest
    eigenvalues are only defined to about sqrt(machine epsilon x its norm).
    """
    try:
        root = np.linalg.cholesky(s2)
        cross = root.T @ s1 @ root
    except np.linalg.LinAlgError:
        root = _psd_sqrt(s2)
        cross = root @ s1 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(cross), 0.0, None)).sum()
    fd = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * trace_sqrt
    return float(max(fd, 0.0))


def _fd(z: np.ndarray, z_ref: np.ndarray, w: np.ndarray | None, w_ref: np.ndarray | None) -> float:
    """FD between Gaussians fitted to standardised rows, each row weighted by its count (None: 1).

    With fewer reference rows m than features F (small suites, and most resamples of them), the
    reference covariance A'A (A: its m centred, weighted rows) has rank < F, and Tr((S S_ref)^(1/2))
    is the sum of sqrt(eigenvalues of A S A'): S A'A and A S A' share their nonzero eigenvalues, so
    this is exact, and an m x m eigendecomposition instead of two F x F ones (30x faster for 32 clips
    of 114 features). The caller limits BLAS threads (`one_thread`)."""
    mu, cov = _gaussian(z, w)
    mu_ref, rows_ref = _centred_rows(z_ref, w_ref)
    if len(rows_ref) < rows_ref.shape[1]:
        cross = rows_ref @ cov @ rows_ref.T
        trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(cross), 0.0, None)).sum()
        fd = np.sum((mu - mu_ref) ** 2) + np.trace(cov) + np.sum(rows_ref**2) - 2.0 * trace_sqrt
        return float(max(fd, 0.0))
    return _frechet(mu, cov, mu_ref, rows_ref.T @ rows_ref)


def _gaussian(z: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1) of the rows of z, row i counted w[i] times."""
    mu, rows = _centred_rows(z, w)
    return mu, rows.T @ rows


def _centred_rows(z: np.ndarray, w: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the rows of z (row i counted w[i] times) and the centred rows scaled so that their
    Gram matrix rows' rows is the covariance (ddof 1): [m, F] for the m rows drawn at least once."""
    if w is not None:  # rows drawn 0 times drop out: a resample holds ~63% of the rows
        keep = np.flatnonzero(w)
        z, w = z[keep], w[keep].astype(np.float64)
    n = len(z) if w is None else w.sum()
    mu = (z.sum(axis=0) if w is None else w @ z) / n
    centred = z - mu if w is None else (z - mu) * np.sqrt(w)[:, None]
    return mu, centred / np.sqrt(n - 1)


def _distances(z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Euclidean distances from z[rows] to every row of z: [len(rows), N], exactly 0 to itself."""
    sq = np.sum(z**2, axis=1)
    d2 = np.maximum(sq[rows, None] + sq[None, :] - 2.0 * z[rows] @ z.T, 0.0)
    d2[np.arange(len(rows)), rows] = 0.0
    return np.sqrt(d2)


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (negative round-off clipped)."""
    sym = (sigma + sigma.T) / 2.0
    w, v = np.linalg.eigh(sym)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _standardise(features: np.ndarray, reference_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f, f_ref = np.asarray(features, float), np.asarray(reference_features, float)
    if f.ndim != 2 or f_ref.ndim != 2 or f.shape[1] != f_ref.shape[1]:
        raise MetricInputError(f"feature sets must be [N, F] with the same F; got {f.shape} and {f_ref.shape}.")
    if len(f) < 2 or len(f_ref) < 2:
        raise MetricInputError(f"distribution metrics need at least 2 clips per set; got {len(f)} and {len(f_ref)}.")
    mu, sd = f_ref.mean(axis=0), f_ref.std(axis=0)
    sd = np.where(sd < STD_FLOOR, 1.0, sd)
    return (f - mu) / sd, (f_ref - mu) / sd


def _feature_pair(
    generated: np.ndarray,
    reference: np.ndarray,
    lengths: np.ndarray | None,
    reference_lengths: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    g, r = np.asarray(generated), np.asarray(reference)
    if g.ndim == 3 and r.ndim == 3 and g.shape[-1] != r.shape[-1]:
        raise MetricInputError(
            f"generated clips have {g.shape[-1]} numbers per frame and reference clips {r.shape[-1]}; compare sets of one schema."
        )
    if reference_lengths is None and g.shape[:2] == r.shape[:2]:
        reference_lengths = lengths
    return motion_features(g, lengths), motion_features(r, reference_lengths)
