"""Text-motion retrieval metrics in a learned evaluator's co-embedding space (the T2M protocol).

Embeddings in, numbers out: `stickeval.judge` turns prompts and clips into vectors; these functions
score the vectors as the T2M evaluation of Guo et al. (2022) does. With f_t the text and f_m the motion embedding of sample i:

- R-precision top-k: in a pool of 32 samples (the matched one and 31 others), rank the 32 motions by
  Euclidean distance to text i; a hit when motion i is among the k nearest. Pools come from a seeded
  random partition (MotionGPT's decoupling from batch order), repeated over `replications`
  partitions; a sample's value is its mean hit rate, so it has a per-sample value and a bootstrap CI.
- Matching score (MM-Dist): |f_t,i - f_m,i|, per sample.
- FID and diversity in the embedding space: `distribution.frechet_distance_ci` and
  `distribution.diversity_ci` on the motion embeddings (standardised by the reference set's).
"""

from __future__ import annotations

import numpy as np

from stickeval.errors import MetricInputError
from stickeval.metrics.distribution import diversity_ci, frechet_distance_ci
from stickeval.metrics.stats import Estimate, bootstrap_ci

POOL_SIZE = 32  # the protocol's pool: "This must be 32!" (MDM); chance top-k is k / 32
TOP_K = 3
REPLICATIONS = 20  # partitions into pools, as the protocol's 20 replications


def _embeddings(text: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, m = np.asarray(text, dtype=np.float64), np.asarray(motion, dtype=np.float64)
    if t.ndim != 2 or t.shape != m.shape or len(t) == 0:
        raise MetricInputError(f"text and motion embeddings must be non-empty [N, E] arrays of one shape; got {t.shape} and {m.shape}.")
    if not (np.isfinite(t).all() and np.isfinite(m).all()):
        raise MetricInputError("embeddings hold NaN or inf; check the clips given to the evaluator.")
    return t, m


def r_precision_hits(
    text: np.ndarray,
    motion: np.ndarray,
    *,
    pool_size: int = POOL_SIZE,
    top_k: int = TOP_K,
    replications: int = REPLICATIONS,
    seed: int = 0,
) -> np.ndarray:
    """Per-sample R-precision: how often motion i is among the k nearest of its pool to text i.

    hit_k(i) = 1 when fewer than k of the pool's other motions are nearer to f_t,i than f_m,i. Ties
    count at random order: with l nearer and e equally near, hit_k = clip((k - l) / (e + 1), 0, 1),
    so identical motions (a frozen mean pose for every prompt) score chance, not 1. Each replication
    partitions a seeded permutation into pools of `pool_size`; the last pool is filled up with the
    samples before it (only the new ones are scored), so every sample is scored in a full pool.

    Range [0, 1], higher is better. A perfect evaluator on distinct pairs scores 1; a shuffled
    pairing, a frozen pose or white noise score about chance, k / pool_size (1/32, 2/32, 3/32).

    Args:
        text: float [N, E] text embeddings; motion: float [N, E] the matching motions' embeddings.
        pool_size: samples per pool (32); top_k: the largest k (3); replications: partitions (20);
        seed: seed of the partitions.

    Returns:
        float64 [N, top_k]: column k-1 is sample i's mean hit@k over the replications.

    Raises:
        MetricInputError: shapes differ, non-finite values, or fewer than `pool_size` samples.
    """
    t, m = _embeddings(text, motion)
    n = len(t)
    if n < pool_size:
        raise MetricInputError(f"R-precision needs at least {pool_size} samples for pools of {pool_size}; got {n}.")
    if replications < 1 or not 1 <= top_k <= pool_size:
        raise MetricInputError(f"need replications >= 1 and 1 <= top_k <= pool_size; got {replications}, {top_k}.")
    rng = np.random.default_rng(seed)
    ks = np.arange(1, top_k + 1)
    starts = np.arange(0, n, pool_size)
    firsts = np.minimum(starts, n - pool_size)  # the last pool reaches back to stay full
    slots = firsts[:, None] + np.arange(pool_size)  # [pools, P]: positions in the permutation
    keep = slots >= starts[:, None]  # samples not scored in an earlier pool: each sample once
    hits = np.zeros((n, top_k))
    for _ in range(replications):  # every pool of a replication at once: [pools, P, P] distances
        pools = rng.permutation(n)[slots]
        d = np.linalg.norm(t[pools][:, :, None, :] - m[pools][:, None, :, :], axis=-1)  # text x motion
        own = np.diagonal(d, axis1=1, axis2=2)[..., None]
        nearer = (d < own).sum(axis=2)[..., None]
        equal = (d == own).sum(axis=2)[..., None] - 1
        rate = np.clip((ks - nearer) / (equal + 1), 0.0, 1.0)  # [pools, P, top_k]
        hits[pools[keep]] += rate[keep]
    return hits / replications


def r_precision_ci(text: np.ndarray, motion: np.ndarray, *, n_boot: int = 2000, seed: int = 0, **kwargs: int) -> dict[int, Estimate]:
    """R-precision top-1..top_k with bootstrap 95% CIs over samples: {k: Estimate}.

    Args, Raises: as `r_precision_hits` (its keyword arguments pass through); n_boot: resamples.
    """
    hits = r_precision_hits(text, motion, seed=seed, **kwargs)
    return {k + 1: bootstrap_ci(hits[:, k], n_boot=n_boot, seed=seed) for k in range(hits.shape[1])}


def matching_distances(text: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Matching score (MM-Dist) per sample: |f_t,i - f_m,i|, Euclidean.

    Range [0, 2] for the evaluator's unit vectors; lower is better. Real clips sit well below the
    distance between unrelated text and motion (about sqrt(2) for unit vectors at random); a frozen
    pose or white noise sit near or above it.

    Returns:
        float64 [N]. Raises: MetricInputError as `r_precision_hits` (any N >= 1).
    """
    t, m = _embeddings(text, motion)
    return np.linalg.norm(t - m, axis=1)


def matching_score_ci(text: np.ndarray, motion: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> Estimate:
    """Mean matching score (MM-Dist) with a bootstrap 95% CI and n."""
    return bootstrap_ci(matching_distances(text, motion), n_boot=n_boot, seed=seed)


def embedding_fid_ci(
    motion: np.ndarray, reference_motion: np.ndarray, *, paired: bool = True, n_boot: int = 1000, seed: int = 0
) -> Estimate:
    """FID in the evaluator's space: the Fréchet distance of the motion embeddings to the reference's.

    FD = |mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2)) of Gaussians fitted to the embeddings,
    each dimension divided by the reference set's standard deviation (`distribution.frechet_distance_ci`:
    bias-aware interval, floored at 0). Range [0, inf), lower is better; a set with itself scores 0,
    held-out real clips score their finite-sample value (the real row), a frozen pose or white noise
    far more.

    Args:
        motion: float [N, E] embeddings of the clips under test; reference_motion: [M, E] of the references.
        paired: resample row i of both together (N == M, clip i answers reference i's prompt).
        n_boot, seed: the bootstrap.

    Raises:
        MetricInputError: fewer than 2 rows, different E, or paired sets of different sizes.
    """
    return frechet_distance_ci(motion, reference_motion, n_boot=n_boot, seed=seed, paired=paired)


def embedding_diversity_ci(motion: np.ndarray, reference_motion: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> Estimate:
    """Diversity in the evaluator's space: mean distance between all pairs of motion embeddings.

    Standardised by the reference embeddings (`distribution.diversity_ci`; the protocol samples 300
    pairs, this takes every pair). Range [0, inf); no direction: closer to the reference row's value
    is better. Identical clips (a frozen mean pose for every prompt) score 0; white noise scores about
    the noise's own spread in the space, which can match real motion: diversity detects collapse only.
    """
    return diversity_ci(motion, reference_motion, n_boot=n_boot, seed=seed)
