"""Clip corruptions: real motion made wrong in one known way (played backwards, shuffled, over-smoothed).

Each is a pure function of arrays [N, T, D] and the clips' real lengths [N]. The evaluator trains on
them as negatives and the validity study scores them as degenerate "models", so both read the same
definitions.
"""

from __future__ import annotations

import numpy as np


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
