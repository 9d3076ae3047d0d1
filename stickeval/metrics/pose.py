"""Pose error of a rollout against its reference clip, and the original teacher-forced MSE.

`pose_mse` and `root_relative_pose_mse` score what a user sees: the autoregressive rollout, frame by
frame, against the reference clip of the same prompt. `teacher_forced_mse` is the original
`scripts/evaluate.py` "Pose MSE", kept only to show how far it is from the rollout error: with
bidirectional attention position i sees input i+1, which is its target, so a model that copies that
leaked frame scores 0 there while its rollout drifts.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import ROOT_JOINT
from stickeval.errors import MetricInputError
from stickeval.metrics._inputs import check_motion, check_pair, masked_mean, schema_of, scored_mask


def pose_mse(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Mean squared error between a rollout and its reference, per clip.

    mse_i = mean over frames t in 1..L_i-1 and all D coordinates of (g[i,t,d] - r[i,t,d])**2.
    Frame 0 is left out because the generator is given it. Units: coordinate units squared
    (torso lengths squared for the real data and StickBench). Range [0, inf); lower is better.
    A copy of the reference scores 0; a constant offset c on every coordinate scores c**2; a frozen
    pose scores the mean squared displacement of the reference from its first frame; white noise
    scores its variance plus the reference's spread.

    Args:
        generated: float [N, T, D] rollouts.
        reference: float [N, T, D] reference clips.
        lengths: int [N] real frames per clip (None: all T); frames >= length are padding.

    Returns:
        float64 [N].

    Raises:
        MetricInputError: shapes differ, D is not 20 or 48, values are not finite, or a length is
            outside [2, T].
    """
    g, r, lens = check_pair(generated, reference, lengths)
    return masked_mean((g - r) ** 2, scored_mask(lens, g.shape[1]))


def root_relative_pose_mse(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Pose MSE after subtracting each frame's root joint (hip for v1, pelvis centre for v3).

    Every segment endpoint is taken relative to the root joint of the same clip and frame, then
    `pose_mse` is applied: it scores the body's shape and ignores where the figure stands, so a
    rollout that walks the right way at the wrong speed is not charged for the drift. Units and
    range as `pose_mse`; lower is better. A copy or a translated copy scores 0; a frozen pose
    scores the reference's root-relative movement.

    Args / Returns / Raises: as `pose_mse`.
    """
    g, r, lens = check_pair(generated, reference, lengths)
    return masked_mean((_subtract_root(g) - _subtract_root(r)) ** 2, scored_mask(lens, g.shape[1]))


def teacher_forced_mse(predictions: np.ndarray, motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """The original "Pose MSE": teacher-forced one-step predictions against motion[1:], per clip.

    The model is run once on motion[:, :-1] (with its text) and position t predicts frame t+1.
    mse_i = mean over t in 0..L_i-2 and all D coordinates of (pred[i,t,d] - motion[i,t+1,d])**2.
    Labelled teacher-forced: it measures next-frame prediction with the true past given, which the
    original's bidirectional attention turns into copying; it is reported only
    for comparison with the original and is not a generation metric. Units as `pose_mse`; range
    [0, inf), lower is "better". Differences from the original: per-clip means (the original
    averaged per batch), padding masked out.

    Args:
        predictions: float [N, T-1, D]: the model's outputs on motion[:, :-1].
        motion: float [N, T, D]: the clips the model was run on.
        lengths: int [N] real frames per clip (None: all T).

    Returns:
        float64 [N].

    Raises:
        MetricInputError: predictions are not one frame shorter than motion, or as `pose_mse`.
    """
    m, lens = check_motion(motion, lengths, name="motion", min_length=2)
    expected = (m.shape[0], m.shape[1] - 1, m.shape[2])
    if np.shape(predictions) != expected:
        raise MetricInputError(
            f"predictions must be [N, T-1, D] = {expected} for motion of shape {m.shape} "
            f"(position t predicts frame t+1); got {np.shape(predictions)}."
        )
    p, _ = check_motion(predictions, lens - 1, name="predictions", min_length=1)
    t = np.arange(p.shape[1])[None, :]
    return masked_mean((p - m[:, 1:]) ** 2, t < (lens[:, None] - 1))


def _subtract_root(motion: np.ndarray) -> np.ndarray:
    """[N, T, D] with the frame's root joint subtracted from every (x, y) endpoint (broadcast over the
    endpoints, not tiled: one pass over the clips)."""
    schema = schema_of(motion.shape[-1])
    ix, iy = schema.joint_slices()[ROOT_JOINT[schema.name]]
    endpoints = motion.reshape(*motion.shape[:-1], -1, 2)  # [N, T, D / 2, (x, y)]
    return (endpoints - motion[..., None, [ix, iy]]).reshape(motion.shape)
