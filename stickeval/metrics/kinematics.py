"""Kinematic Fréchet distance: does the set of clips move with real motion's speeds, accelerations and jerks?

Pose MSE rewards regression to the mean: a 15-frame moving average of a real clip scores as well as
the clip itself, and a set of over-smoothed clips can keep its poses (and so its pose features) close
to real ones. What over-smoothing cannot keep is the high end of the motion's derivatives. Per clip,

    k_j,o = log( sqrt(mean over scored windows of |Delta^o p_j|^2) * fps^o / s + eps )

for every distinct joint j (the root joint in place, the others relative to it) and derivative order
o = 1, 2, 3 (velocity, acceleration, jerk; s the clip's median torso length, eps = 1e-3): 18 numbers
for schema v1. The metric is the Fréchet distance between Gaussians fitted to the two sets of these
vectors, standardised by the reference set (`distribution.frechet_distance_ci`, bias-aware CI).

Range [0, inf), lower is better. A set with itself scores 0; held-out real clips score their
finite-sample value; over-smoothed clips (acceleration and jerk shrink far more than velocity),
jittery clips (they grow), frozen poses (log eps everywhere) and white noise score far higher.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS
from stickeval.metrics._inputs import check_motion, schema_of, scored_mask
from stickeval.metrics.distribution import frechet_distance_ci, frechet_distance_features
from stickeval.metrics.features import SCALE_FLOOR, body_scale, joint_array
from stickeval.metrics.stats import Estimate

ORDERS = (1, 2, 3)  # velocity, acceleration, jerk
EPS = 1e-3  # torso lengths / s^o: a still joint's log stays finite
MIN_FRAMES = 5  # a third difference needs 4 scored frames, and frame 0 is not scored


def kinematic_features(motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Log RMS velocity, acceleration and jerk of every joint of every clip (module docstring).

    Args:
        motion: float [N, T, D] clips; lengths: int [N] real frames (None: all T), each at least 5.

    Returns:
        float64 [N, 3 J]: orders 1, 2, 3 for each of the J distinct joints (18 for v1, 48 for v3).

    Raises:
        MetricInputError: bad shapes, non-finite values, or a clip shorter than 5 frames.
    """
    arr, lens = check_motion(motion, lengths, min_length=MIN_FRAMES)
    scale = np.maximum(body_scale(arr, lens), SCALE_FLOOR)
    pos, root = joint_array(arr, schema_of(arr.shape[-1]))  # [N, T, J, 2]
    others = np.arange(pos.shape[2]) != root
    rel = pos.copy()
    rel[:, :, others] -= pos[:, :, root : root + 1]  # the root joint stays in place, the rest relative to it
    out = []
    for order in ORDERS:
        power = np.sum(np.diff(rel, n=order, axis=1) ** 2, axis=-1)  # [N, T - order, J]
        mask = scored_mask(lens, arr.shape[1], span=order)[..., None]
        rms = np.sqrt((power * mask).sum(axis=1) / mask.sum(axis=1))  # [N, J]
        out.append(np.log(rms * FPS**order / scale[:, None] + EPS))
    return np.concatenate(out, axis=1)


def kinematic_fd(
    generated: np.ndarray,
    reference: np.ndarray,
    lengths: np.ndarray | None = None,
    reference_lengths: np.ndarray | None = None,
) -> float:
    """Kinematic Fréchet distance of generated clips [N, T, D] to reference clips [M, T', D] (a "set" metric).

    `reference_lengths` defaults to `lengths` when the sets are paired (same N and T), else all T'.
    Range [0, inf), lower is better (module docstring).

    Raises:
        MetricInputError: fewer than 2 clips in a set, schemas differ, or bad clips.
    """
    if reference_lengths is None and np.shape(generated)[:2] == np.shape(reference)[:2]:
        reference_lengths = lengths
    return frechet_distance_features(kinematic_features(generated, lengths), kinematic_features(reference, reference_lengths))


def kinematic_fd_ci(
    features: np.ndarray, reference_features: np.ndarray, *, paired: bool = True, n_boot: int = 1000, seed: int = 0
) -> Estimate:
    """`kinematic_fd` from `kinematic_features` computed once, with its bias-aware 95% CI and n.

    Range [0, inf), lower is better; a set with itself scores 0, frozen poses and white noise far more.

    Args:
        features: [N, F] of the clips under test; reference_features: [M, F] of the references.
        paired, n_boot, seed: as `distribution.frechet_distance_ci`.

    Raises:
        MetricInputError: as `distribution.frechet_distance_ci`.
    """
    return frechet_distance_ci(features, reference_features, paired=paired, n_boot=n_boot, seed=seed)
