"""Motion features that do not depend on where the figure stands or how big it is.

One implementation shared by the action classifier (`action.py`) and the distribution metrics
(`distribution.py`), so that "what a clip looks like" means the same thing to both.

A clip is described from its scored frames (1 .. length-1, see `_inputs.py`) after two
normalisations:
- position: every joint is taken relative to the root joint (hip / pelvis centre);
- size: coordinates are divided by the clip's body scale, the median torso length (neck to root).
  Both the real motion capture and the original synthetic skeleton have a torso of 1.0 unit, so a
  "torso length" is the natural unit of every normalised quantity in `stickeval.metrics`.

The feature vector, per clip (C = 2 x (joints - 1) root-relative coordinates):
- pose statistics per coordinate: mean, standard deviation, 10th and 90th percentile  (4C);
- multi-scale movement per coordinate: log RMS of x(t + k) - x(t) for lags k = 1, 2, 4, 8, 16, 32
  frames, a length-robust summary of the motion spectrum (6C);
- root movement: mean root velocity (x, y) in torso lengths per second, and the same log lag RMS of
  the root track (2 + 12).
The clip length itself is never a feature: the original's raw `float(T)` feature dominated its
"diversity" (after its L2 normalisation, clips of one length all point almost the same way).
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS, ROOT_JOINT, Schema, joints
from stickeval.data.suite import MIN_FRAMES
from stickeval.metrics._inputs import check_motion, schema_of, scored_mask

FEATURES_VERSION = "features-v1"  # bump when the vector changes: cached classifiers key on it
LAGS = (1, 2, 4, 8, 16, 32)  # frames; 40 ms .. 1.3 s at 25 fps
RMS_FLOOR = 1e-3  # torso lengths, below the 1/512-unit quantisation of the real data: log stays finite
SCALE_FLOOR = 1e-6  # torso length of a figure collapsed to a point: its normalised pose is all zeros


def joint_array(motion: np.ndarray, schema: Schema) -> tuple[np.ndarray, int]:
    """Distinct joints of [..., D] motion as [..., J, 2], and the index of the root joint among them.

    One gather of every joint's (x, y) dims (`Schema.joint_slices`), where a copy per joint and a stack
    of them cost two passes over the clips for the same values."""
    slices = schema.joint_slices()
    dims = np.array(list(slices.values())).ravel()
    pos = motion[..., dims].reshape(*motion.shape[:-1], len(slices), 2)
    return pos, list(slices).index(ROOT_JOINT[schema.name])


def body_scale(motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Median torso length (neck to root joint) of each clip over its scored frames.

    Args:
        motion: float [N, T, D] clips.
        lengths: int [N] real frames per clip (None: all T).

    Returns:
        float64 [N], in the clip's coordinate units; 0 for a figure collapsed to a point.

    Raises:
        MetricInputError: see `_inputs.check_motion`.
    """
    arr, lens = check_motion(motion, lengths, min_length=2)
    schema = schema_of(arr.shape[-1])
    by_name = joints(arr, schema)
    torso = np.linalg.norm(by_name["neck"] - by_name[ROOT_JOINT[schema.name]], axis=-1)  # [N, T]
    torso = np.where(scored_mask(lens, arr.shape[1]), torso, np.nan)
    return np.nanmedian(torso, axis=1)


def motion_features(motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """The position- and size-invariant feature vector of every clip (see the module docstring).

    Args:
        motion: float [N, T, D] clips, D = 20 (v1) or 48 (v3).
        lengths: int [N] real frames per clip (None: all T); each at least `suite.MIN_FRAMES` (5).

    Returns:
        float64 [N, F], F = 10 (J - 1) + 14 for J distinct joints (114 for v1, 314 for v3).

    Raises:
        MetricInputError: bad shapes, non-finite values, or a clip shorter than 5 frames.
    """
    arr, lens = check_motion(motion, lengths, min_length=MIN_FRAMES)
    schema = schema_of(arr.shape[-1])
    scale = np.maximum(body_scale(arr, lens), SCALE_FLOOR)
    pos, root = joint_array(arr, schema)  # [N, T, J, 2]
    pos = pos / scale[:, None, None, None]
    root_track = pos[:, :, root, :]  # [N, T, 2]
    rel = np.delete(pos - root_track[:, :, None, :], root, axis=2).reshape(*arr.shape[:2], -1)  # [N, T, C]
    out = np.empty((arr.shape[0], (4 + len(LAGS)) * rel.shape[-1] + 2 + 2 * len(LAGS)))
    # Clips of one length are processed together: generated suites are all the same length.
    for length in np.unique(lens):
        sel = np.flatnonzero(lens == length)
        out[sel] = _features_fixed_length(rel[sel, 1:length], root_track[sel, 1:length])
    return out


def _features_fixed_length(rel: np.ndarray, root_track: np.ndarray) -> np.ndarray:
    """Features of clips that all have the same number of scored frames: rel [n, L, C], root [n, L, 2]."""
    n_frames = rel.shape[1]
    p10, p90 = np.percentile(rel, [10, 90], axis=1)
    parts = [rel.mean(axis=1), rel.std(axis=1), p10, p90, _lag_log_rms(rel)]
    velocity = (root_track[:, -1] - root_track[:, 0]) * FPS / (n_frames - 1)  # torso lengths / s
    parts += [velocity, _lag_log_rms(root_track)]
    return np.concatenate(parts, axis=1)


def _lag_log_rms(track: np.ndarray) -> np.ndarray:
    """log RMS of track[t + k] - track[t] per channel for each lag k (clipped to the clip): [n, len(LAGS) * C]."""
    n_frames = track.shape[1]
    out = []
    for lag in LAGS:
        k = min(lag, n_frames - 1)
        step = track[:, k:] - track[:, :-k]
        out.append(np.log(np.sqrt(np.mean(step**2, axis=1)) + RMS_FLOOR))
    return np.concatenate(out, axis=1)
