"""What the evaluator's networks see of a clip: per-frame body pose and root velocity (and, where the
domain asks for them, the pose's velocity and acceleration), and a frame mask.

The same normalisations as `metrics.features` (one definition of "what a clip looks like"):
joints relative to the root joint and divided by the clip's median torso length, so where the figure
stands and how big it is do not matter. Unlike the clip-level feature vector, the frames stay in
order, and the root's frame-to-frame velocity (torso lengths per second) is a channel of its own:
reversing a walk flips its sign, shuffling frames turns it into noise. The derivative channels make
how fast and how smoothly the body moves as plain to the network as its pose: a tremor of 1% of body
scale or a 5-frame moving average changes the acceleration channels far more than the pose ones.
Whether a domain's evaluator reads them is `EvaluatorConfig.derivatives` (`judge.domains`). Frame 0
(the generator's given prime) and padding past `lengths` are masked out, as every metric does.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS
from stickeval.metrics._inputs import check_motion, schema_of, scored_mask
from stickeval.metrics.features import MIN_FRAMES, SCALE_FLOOR, body_scale, joint_array


def n_channels(dim: int, *, derivatives: bool = False) -> int:
    """Channels per frame for D-wide motion: 2 (J - 1) root-relative coordinates (and as many of their
    velocity and of their acceleration with `derivatives`) + 2 root velocity: 12 (32) for schema v1."""
    return (6 if derivatives else 2) * (len(schema_of(dim).joint_names) - 1) + 2


def motion_tracks(motion: np.ndarray, lengths: np.ndarray | None = None, *, derivatives: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame network input and mask of every clip.

    Args:
        motion: float [N, T, D] clips, D = 20 (v1) or 48 (v3).
        lengths: int [N] real frames per clip (None: all T); each at least 3.
        derivatives: add the root-relative joints' velocity and acceleration channels.

    Returns:
        tracks: float32 [N, T, C], C = `n_channels(D, derivatives=...)`: root-relative joints / torso
            length; with `derivatives` their velocity (torso lengths / s: frame t holds
            (x[t] - x[t-1]) x fps, frame 0 frame 1's) and acceleration (torso lengths / s^2: the
            velocity's difference, 0 at frames 0 and 1); then the root's velocity (frame t holds
            x[t] - x[t-1] per second, frame 0 holds 0);
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
    channels = [rel]
    if derivatives:
        rel_velocity = np.diff(rel, axis=1, prepend=rel[:, :1]) * FPS
        rel_velocity[:, 0] = rel_velocity[:, 1]  # frame 0's own velocity is unknown: no step into frame 1
        channels += [rel_velocity, np.diff(rel_velocity, axis=1, prepend=rel_velocity[:, :1]) * FPS]
    channels.append(np.diff(root_track, axis=1, prepend=root_track[:, :1]) * FPS)
    mask = scored_mask(lens, arr.shape[1])
    tracks = np.concatenate(channels, axis=-1) * mask[..., None]
    return tracks.astype(np.float32), mask
