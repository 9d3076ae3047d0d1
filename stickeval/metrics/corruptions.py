"""Clip corruptions: real motion made wrong in one known way (played backwards, shuffled, over-smoothed,
jittered, shaken, sped up or slowed down, its left and right limbs swapped).

Each is a pure function of arrays [N, T, D] and the clips' real lengths [N]. The evaluator trains on
some of them as negatives and the validity study scores all of them as degenerate "models", so both
read the same definitions. Joints are moved in joint space (`Schema.joint_names`) and written back
to every segment end at that joint, so segments stay joined.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import ROOT_JOINT, Schema
from stickeval.metrics._inputs import schema_of
from stickeval.metrics.features import body_scale, joint_array


def reverse_clips(motion: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Each clip played backwards over its real frames; the padding holds the new last frame (the old first)."""
    t = np.arange(motion.shape[1])[None, :]
    idx = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, 0)  # padding: the new last frame, old frame 0
    return np.take_along_axis(motion, idx[..., None], axis=1)


def shuffle_clips(motion: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each clip's real frames in a random order (padding holds the new last frame)."""
    out = np.array(motion, copy=True)
    for i, n in enumerate(lengths):
        out[i, :n] = motion[i, rng.permutation(int(n))]
        out[i, n:] = out[i, n - 1]
    return out


def moving_average(motion: np.ndarray, window: int | np.ndarray) -> np.ndarray:
    """Each clip smoothed by a centred moving average over `window` frames (odd; one per clip or one for all).

    The ends repeat the first and last frame (so a still clip stays still); frames past a clip's
    length are the padding the clip already holds.
    """
    windows = np.broadcast_to(np.asarray(window), (len(motion),))
    out = np.empty_like(motion, dtype=np.float64)
    for w in np.unique(windows):
        sel = np.flatnonzero(windows == w)
        padded = np.pad(np.asarray(motion[sel], dtype=np.float64), ((0, 0), (w // 2, w // 2), (0, 0)), mode="edge")
        csum = np.cumsum(np.pad(padded, ((0, 0), (1, 0), (0, 0))), axis=1)
        out[sel] = (csum[:, w:] - csum[:, :-w]) / w
    return out


def _joint_of_pair(schema: Schema) -> np.ndarray:
    """For each (x, y) pair of a [D] frame vector, the index of its joint in `schema.joint_names`: [D / 2]."""
    names = schema.joint_names
    return np.array([names.index(joint) for _, start, end in schema.segments for joint in (start, end)])


def _move_joints(motion: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Clips [N, T, D] with each joint moved by `displacement` [N, T, J, 2] (J = the schema's joints, in
    `Schema.joint_names` order): every segment end at that joint moves with it, so segments stay joined."""
    pairs = _joint_of_pair(schema_of(motion.shape[-1]))
    return np.asarray(motion, dtype=np.float64) + displacement[:, :, pairs, :].reshape(motion.shape)


def jitter_joints(motion: np.ndarray, lengths: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """Every joint but the root shaken independently in every frame; the root (hip) stays where it was.

    Each non-root joint moves by N(0, (sd x body scale)^2) per frame and coordinate (body scale: the
    clip's median torso length), so the figure's path is the real one and only its pose trembles.

    Args:
        motion: float [N, T, D] clips; lengths: int [N] real frames.
        sd: the noise's standard deviation in torso lengths (0.01 is 1% of body scale); one for all
            clips, or float [N] one per clip.
        rng: the noise's generator.

    Returns:
        float64 [N, T, D].
    """
    schema = schema_of(motion.shape[-1])
    scale = body_scale(motion, lengths) * np.broadcast_to(np.asarray(sd, dtype=np.float64), (len(motion),))
    noise = rng.standard_normal((*motion.shape[:2], len(schema.joint_names), 2)) * scale[:, None, None, None]
    noise[:, :, schema.joint_names.index(ROOT_JOINT[schema.name])] = 0.0
    return _move_joints(motion, noise)


def shake(motion: np.ndarray, lengths: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """The whole figure moved rigidly by N(0, (sd x body scale)^2) per frame and coordinate: the pose
    is the real one and only where it stands trembles (the complement of `jitter_joints`).

    Args / Returns: as `jitter_joints`.
    """
    n_joints = len(schema_of(motion.shape[-1]).joint_names)
    offset = rng.standard_normal((*motion.shape[:2], 1, 2)) * (sd * body_scale(motion, lengths))[:, None, None, None]
    return _move_joints(motion, np.repeat(offset, n_joints, axis=2))


def change_speed(motion: np.ndarray, lengths: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """Each clip played `factor` times as fast (0.5: slow motion at half speed; 2: twice as fast).

    Frame t shows the clip at time t x factor, between its real frames by cubic (Catmull-Rom)
    interpolation, so slow motion has no kink at every real frame as straight lines between them
    would. Where that time runs past the clip's last real frame the clip plays backwards from there
    (and forwards again at its first frame), so a fast clip keeps moving at its new speed for all its
    frames instead of freezing or jumping back to its start. Each output keeps its clip's length;
    padding holds the last output frame.

    Args:
        motion: float [N, T, D] clips; lengths: int [N] real frames (at least 2).
        factor: the speed-up, one for all clips or float [N] one per clip (> 0).

    Returns:
        float64 [N, T, D].
    """
    n, frames = motion.shape[:2]
    factor = np.broadcast_to(np.asarray(factor, dtype=np.float64), (n,))
    last = (np.asarray(lengths) - 1).astype(np.float64)[:, None]  # [N, 1]
    t = np.minimum(np.arange(frames)[None, :], last)  # padding: the last real output frame
    source = np.abs((t * factor[:, None] + last) % (2 * last) - last)  # a triangle wave: forwards, back, ...
    base = np.minimum(np.floor(source), last - 1).astype(np.int64)  # the real frame before each time
    u = (source - base)[..., None]
    clips = np.asarray(motion, dtype=np.float64)

    def frame(offset: int) -> np.ndarray:
        index = np.clip(base + offset, 0, last.astype(np.int64))
        return np.take_along_axis(clips, index[..., None], axis=1)

    before, start, end, after = frame(-1), frame(0), frame(1), frame(2)
    slope_start, slope_end = (end - before) / 2, (after - start) / 2
    return (
        (2 * u**3 - 3 * u**2 + 1) * start + (u**3 - 2 * u**2 + u) * slope_start + (-2 * u**3 + 3 * u**2) * end + (u**3 - u**2) * slope_end
    )


def swap_sides(motion: np.ndarray) -> np.ndarray:
    """Each clip with its left and right limbs swapped: the left hand does what the right hand did,
    and so on for every joint named left_* / l_* and its right_* / r_* twin (the torso stays). Every
    segment end at a joint takes its twin's position (the first segment end naming it).

    Returns:
        float64 [N, T, D].
    """
    schema = schema_of(motion.shape[-1])
    names = schema.joint_names
    twin = {"left_": "right_", "right_": "left_", "l_": "r_", "r_": "l_"}

    def mirror(name: str) -> str:
        for side, other in twin.items():
            if name.startswith(side):
                return other + name[len(side) :]
        return name

    twin_of = np.array([names.index(mirror(j)) for j in names])
    pos, _ = joint_array(np.asarray(motion, dtype=np.float64), schema)  # [N, T, J, 2], in joint_names order
    return pos[:, :, twin_of][:, :, _joint_of_pair(schema)].reshape(motion.shape)
