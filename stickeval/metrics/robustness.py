"""Robustness to prompt noise: does a reworded prompt give the same motion, relative to what another prompt gives?

The original "robustness score" applies no noise at all: it is the share of fixed "adversarial"
prompts whose rollouts its safety critic passes, a critic that passes white noise and fails a person
standing still (`scripts/run_adversarial_eval.py` and its `SafetyCritic`). Here each prompt is rolled out three times from the
same first frame and action track, changing only the text:

    clean: the prompt;  noisy: the prompt perturbed (`stickeval.data.prompt_noise`);
    other: another prompt of the suite, preferably of another action (`other_prompt_indices`).

    robustness_i = clip(1 - d(noisy_i, clean_i) / d(clean_i, other_i), 0, 1),  d = `pose.pose_mse`

1 means the noise changed nothing; 0 means the noisy prompt moved the rollout as far as a different
prompt does (or further). When the model's output barely depends on its text, d(clean, other) ~ 0
and the ratio means nothing: such samples are **undefined** (NaN), never 1.0, and are reported as
such (`stats.bootstrap_ci(..., drop_undefined=True)` counts them in `n_undefined`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stickeval.errors import MetricInputError
from stickeval.metrics._inputs import check_pair
from stickeval.metrics.features import body_scale
from stickeval.metrics.pose import pose_mse

MIN_SEPARATION = 0.01  # torso lengths RMS: other prompts closer than this mean the model ignores text


def robustness(
    noisy: np.ndarray,
    clean: np.ndarray,
    other: np.ndarray,
    lengths: np.ndarray | None = None,
    *,
    min_separation: float = MIN_SEPARATION,
) -> np.ndarray:
    """Per-sample robustness score in [0, 1], NaN where undefined (module docstring).

    A sample is undefined when sqrt(d(clean, other)) < min_separation x s, s the clean rollout's
    body scale (median torso length), i.e. switching to another prompt moves the rollout by less than
    1% of a torso (RMS); also when s is 0 (the figure collapsed to a point). Range [0, 1], higher is
    better. Known values: noisy == clean scores 1; noisy == other scores 0; noisy = clean + c and
    other = clean + 2c on every coordinate scores 1 - 1/4 = 0.75; a model that ignores its text
    (other == clean) is undefined for every sample.

    Args:
        noisy: float [N, T, D] rollouts of the perturbed prompts.
        clean: float [N, T, D] rollouts of the clean prompts.
        other: float [N, T, D] rollouts of other prompts, from the same first frame and action track
            as `clean` (so that only the text differs).
        lengths: int [N] real frames per clip (None: all T).
        min_separation: threshold in torso lengths (RMS) below which a sample is undefined.

    Returns:
        float64 [N], NaN for undefined samples.

    Raises:
        MetricInputError: shapes differ, or bad clips (see `pose.pose_mse`).
    """
    noisy_f, clean_f, lens = check_pair(noisy, clean, lengths)
    _, other_f, _ = check_pair(clean_f, other, lens)
    change = pose_mse(noisy_f, clean_f, lens)
    contrast = pose_mse(clean_f, other_f, lens)
    scale = body_scale(clean_f, lens)
    defined = (scale > 0) & (np.sqrt(contrast) >= min_separation * scale)
    ratio = np.divide(change, contrast, out=np.zeros_like(change), where=defined)
    return np.where(defined, np.clip(1.0 - ratio, 0.0, 1.0), np.nan)


def other_prompt_indices(labels: Sequence[str], *, seed: int = 0) -> np.ndarray:
    """For each sample, a seeded choice of another sample to serve as its "other prompt".

    The other sample has a different label when one exists, else it is any other sample.

    Args:
        labels: N action labels of the suite's samples.
        seed: seed of the choice (default 0); same labels + seed -> same indices.

    Returns:
        int64 [N], never i at position i.

    Raises:
        MetricInputError: fewer than 2 samples.
    """
    names = np.asarray([str(x) for x in labels])
    n = names.size
    if n < 2:
        raise MetricInputError(f"robustness needs at least 2 prompts to contrast; got {n}.")
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        pool = np.flatnonzero(names != names[i])
        if pool.size == 0:
            pool = np.delete(np.arange(n), i)
        out[i] = pool[rng.integers(pool.size)]
    return out
