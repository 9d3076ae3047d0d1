"""What the evaluator's networks see of a clip: per-frame body pose and root velocity, and a frame mask.

The same normalisations as `metrics.features` (one definition of "what a clip looks like"):
joints relative to the root joint and divided by the clip's median torso length, so where the figure
stands and how big it is do not matter. Unlike the clip-level feature vector, the frames stay in
order, and the root's frame-to-frame velocity (torso lengths per second) is a channel of its own:
reversing a walk flips its sign, shuffling frames turns it into noise. Frame 0 (the generator's given
prime) and padding past `lengths` are masked out, as every metric does.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS
from stickeval.metrics._inputs import check_motion, schema_of, scored_mask
from stickeval.metrics.features import MIN_FRAMES, SCALE_FLOOR, body_scale, joint_array


def n_channels(dim: int) -> int:
    """Channels per frame for D-wide motion: 2 (J - 1) root-relative coordinates + 2 root velocity."""
    return 2 * (len(schema_of(dim).joint_names) - 1) + 2


def motion_tracks(motion: np.ndarray, lengths: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame network input and mask of every clip.

    Args:
        motion: float [N, T, D] clips, D = 20 (v1) or 48 (v3).
        lengths: int [N] real frames per clip (None: all T); each at least 3.

    Returns:
        tracks: float32 [N, T, C], C = `n_channels(D)`: root-relative joints / torso length, then
            root velocity (torso lengths / s; frame t holds x[t] - x[t-1], frame 0 holds 0);
        mask: bool [N, T], true on the scored frames 1 .. lengths - 1.

    Raises:
        MetricInputError: bad shapes, non-finite values, or a clip shorter than 3 frames.
    """
    arr, lens = check_motion(motion, lengths, min_length=MIN_FRAMES)
    scale = np.maximum(body_scale(arr, lens), SCALE_FLOOR)[:, None, None, None]
    pos, root = joint_array(arr, schema_of(arr.shape[-1]))  # [N, T, J, 2]
    pos = pos / scale
    root_track = pos[:, :, root, :]  # [N, T, 2]
    rel = np.delete(pos - root_track[:, :, None, :], root, axis=2).reshape(*arr.shape[:2], -1)
    velocity = np.diff(root_track, axis=1, prepend=root_track[:, :1]) * FPS
    mask = scored_mask(lens, arr.shape[1])
    tracks = np.concatenate([rel, velocity], axis=-1) * mask[..., None]
    return tracks.astype(np.float32), mask
