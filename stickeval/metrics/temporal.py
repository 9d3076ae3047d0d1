"""Temporal consistency: does the rollout move as smoothly as its reference, neither frozen nor jittery?

The original "temporal consistency" is `smoothness_score = 1 / (1 + mean jerk)` on raw coordinates
(`compute_motion_temporal_metrics` of its `src/eval/metrics.py`): a frozen pose maximises it (1.0)
and it is not scale-normalised, so on the real motion capture a frozen pose (1.000) outscores a real
walk (0.968). Here the clip's jerk is
compared with its reference's jerk, in the same (torso-length) units:

    J(x)  = mean over scored windows and joints of |x[t+3] - 3x[t+2] + 3x[t+1] - x[t]| * fps**3 / s
    ratio = (J(generated) + eps) / (J(reference) + eps)
    temporal_consistency = min(ratio, 1 / ratio)

s is the reference's body scale (median torso length), eps = 1e-3 torso lengths / s^3. The score is
1 for a copy, -> 0 for a frozen clip (ratio -> 0) and for jitter (ratio >> 1), and equals A/B for a
clip that is the reference's motion at amplitude A instead of B (A < B). The legacy score is kept
beside it as `smoothness_legacy`, and two flags say why a score is low (`frozen`, `jittery`).
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS
from stickeval.data.suite import MIN_FRAMES
from stickeval.metrics._inputs import check_motion, check_pair, masked_mean, schema_of, scored_mask
from stickeval.metrics.features import SCALE_FLOOR, body_scale, joint_array

JERK_EPS = 1e-3  # torso lengths / s^3; keeps the ratio finite (and 1) when both clips are still
SPEED_EPS = 1e-3  # torso lengths / s
FROZEN_SPEED_RATIO = 0.05  # flagged frozen: moves less than 5% as fast as the reference
JITTER_RATIO = 4.0  # flagged jittery: 4x the reference's jerk per unit of speed (high-frequency content)


def temporal_consistency(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Jerk-ratio score in [0, 1]: 1 when the clip's jerk matches its reference's (module docstring).

    Range [0, 1], higher is better. A copy (or a time-shifted copy of a steady motion) scores ~1;
    a frozen pose scores ~0 (J = 0: eps / J_ref); white noise scores ~0 (its jerk is many times the
    reference's); real frames in shuffled order score low for the same reason.

    Args:
        generated: float [N, T, D] rollouts.
        reference: float [N, T, D] reference clips.
        lengths: int [N] real frames per clip (None: all T); each at least 5.

    Returns:
        float64 [N].

    Raises:
        MetricInputError: shapes differ, D is not 20 or 48, values are not finite, or a clip is
            shorter than 5 frames.
    """
    ratio = jerk_ratio(generated, reference, lengths)
    return np.minimum(ratio, 1.0 / ratio)


def jerk_ratio(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """(J(generated) + eps) / (J(reference) + eps), the quantity `temporal_consistency` folds into [0, 1].

    Range (0, inf): < 1 smoother or stiller than the reference, > 1 jerkier. Args, Raises: as
    `temporal_consistency`. Returns float64 [N].
    """
    g, r, lens = check_pair(generated, reference, lengths, min_length=MIN_FRAMES)
    scale = np.maximum(body_scale(r, lens), SCALE_FLOOR)
    jerk_g, jerk_r = (_mean_joint_derivative(x, lens, 3, scale) for x in (g, r))
    return (jerk_g + JERK_EPS) / (jerk_r + JERK_EPS)


def smoothness_legacy(generated: np.ndarray, reference: np.ndarray | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
    """The original `smoothness_score`: 1 / (1 + mean |third difference|), on raw coordinates.

    mean jerk = mean over scored windows of the L2 norm over all D coordinates of
    m[t+3] - 3m[t+2] + 3m[t+1] - m[t], in coordinate units per frame^3 (no fps, no body scale), as in
    the original `compute_motion_temporal_metrics`. Range (0, 1], higher was meant
    to be better, but a frozen pose scores exactly 1.0, above any real motion: reported only for
    comparison with the original. `reference` is accepted for the common signature and not used.

    Args:
        generated: float [N, T, D] rollouts.
        reference: ignored (the legacy score looks at one clip).
        lengths: int [N] real frames per clip (None: all T); each at least 5.

    Returns:
        float64 [N].

    Raises:
        MetricInputError: as `temporal_consistency`.
    """
    g, lens = check_motion(generated, lengths, name="generated", min_length=MIN_FRAMES)
    jerk = np.linalg.norm(np.diff(g, n=3, axis=1), axis=-1)  # [N, T-3]
    return 1.0 / (1.0 + masked_mean(jerk, scored_mask(lens, g.shape[1], span=3)))


def frozen(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Flag: 1.0 where the rollout moves less than 5% as fast as its reference, else 0.0.

    speed = mean joint speed in torso lengths / s (the reference's body scale for both clips), and
    the flag is (speed_g + eps) / (speed_r + eps) < 0.05, so a still reference with a still rollout
    is not flagged. The mean over clips is the frozen rate, range [0, 1], lower is better: a frozen
    pose scores 1, a copy and white noise 0.

    Args / Raises: as `temporal_consistency`. Returns float64 [N] of 0.0 / 1.0.
    """
    g, r, lens = check_pair(generated, reference, lengths, min_length=MIN_FRAMES)
    scale = np.maximum(body_scale(r, lens), SCALE_FLOOR)
    speed_g, speed_r = (_mean_joint_derivative(x, lens, 1, scale) for x in (g, r))
    return ((speed_g + SPEED_EPS) / (speed_r + SPEED_EPS) < FROZEN_SPEED_RATIO).astype(np.float64)


def jittery(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Flag: 1.0 where the rollout's jerk per unit of speed is over 4x its reference's, else 0.0.

    jitter(x) = (J(x) + eps_J) / (speed(x) + eps_v), in 1/s^2: how much of the movement is
    high-frequency, whatever its amplitude (white noise has about 3 fps^2, a 1 Hz swing (2 pi)^2).
    The flag is jitter(g) > 4 jitter(r). The mean over clips is the jitter rate, range [0, 1], lower
    is better: white noise scores 1, a copy and a frozen pose 0.

    Args / Raises: as `temporal_consistency`. Returns float64 [N] of 0.0 / 1.0.
    """
    g, r, lens = check_pair(generated, reference, lengths, min_length=MIN_FRAMES)
    scale = np.maximum(body_scale(r, lens), SCALE_FLOOR)

    def jitter(x: np.ndarray) -> np.ndarray:
        jerk, speed = (_mean_joint_derivative(x, lens, order, scale) for order in (3, 1))
        return (jerk + JERK_EPS) / (speed + SPEED_EPS)

    return (jitter(g) > JITTER_RATIO * jitter(r)).astype(np.float64)


def _mean_joint_derivative(motion: np.ndarray, lengths: np.ndarray, order: int, scale: np.ndarray) -> np.ndarray:
    """Mean over scored windows and distinct joints of |order-th difference| * fps**order / scale: [N]."""
    pos, _ = joint_array(motion, schema_of(motion.shape[-1]))  # [N, T, J, 2]
    diff = np.linalg.norm(np.diff(pos, n=order, axis=1), axis=-1)  # [N, T-order, J]
    return masked_mean(diff, scored_mask(lengths, motion.shape[1], span=order)) * FPS**order / scale
