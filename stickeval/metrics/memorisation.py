"""Memorisation: how close each clip comes to a clip of the training data.

A model that replays its training clips can look better than one that generalises on every other
metric: a train clip of a similar prompt is real motion, usually of the right action, so it scores
like real motion on the set metrics and often closer to the references than another real take does.
What gives it away is its distance to the training data. Real motion that was never trained on (the
held-out reference row) sits at some distance from its nearest train clip; a replayed clip sits at 0.
A run whose distance is below the real row's with non-overlapping intervals is flagged
(`stickeval.evaluation.baselines.replays_training`).

    d(g, h) = mean over scored frames t = 1 .. L-1 and root-relative coordinates c of (g[t,c] - h[t,c])^2
    nearest_train_mse(g) = min over train clips h of d(g, h)

Both clips are taken root-relative and divided by their own body scale (torso lengths), so where the
figure stands and how big it is do not matter; a train clip is aligned with the clip at frame 0 (a
generator is given frame 0 and replays from there), and past its own length it holds its last frame.
A replay that starts elsewhere in the train clip is not found (the search has no time offsets).
"""

from __future__ import annotations

import numpy as np

from stickeval.data.suite import MIN_FRAMES
from stickeval.errors import MetricInputError
from stickeval.metrics._inputs import check_motion, schema_of, scored_mask
from stickeval.metrics.features import SCALE_FLOOR, body_scale, joint_array


def nearest_train_mse(generated: np.ndarray, lengths: np.ndarray | None, train: np.ndarray, train_lengths: np.ndarray | None) -> np.ndarray:
    """Each clip's root-relative MSE to its nearest train clip (module docstring), in torso lengths^2.

    Range [0, inf); closest to the held-out real clips' value is better: below it means replayed
    training clips, far above it motion unlike any real clip. A train clip scores 0 (up to float
    round-off), white noise far above real motion; a still pose can lie near the train split's still
    clips, below real motion.

    Args:
        generated: float [N, T, D] clips; lengths: int [N] real frames (None: all T), each at least 5.
        train: float [M, T, D] the training clips; train_lengths: int [M] their real frames.

    Returns:
        float64 [N].

    Raises:
        MetricInputError: bad shapes or values (`_inputs.check_motion`), or `train` has another
            number of frames or schema than `generated`.
    """
    g, lens = check_motion(generated, lengths, name="generated", min_length=MIN_FRAMES)
    h, train_lens = check_motion(train, train_lengths, name="train", min_length=MIN_FRAMES)
    if h.shape[1:] != g.shape[1:]:
        raise MetricInputError(f"train clips are {h.shape[1:]} (frames, dims) but the clips are {g.shape[1:]}; give clips of one suite.")
    held = np.minimum(np.arange(h.shape[1])[None, :], train_lens[:, None] - 1)  # past its length a train clip holds
    x = _pose_track(g, lens) * scored_mask(lens, g.shape[1])[..., None]  # [N, T, C], unscored frames zeroed
    y = _pose_track(np.take_along_axis(h, held[..., None], axis=1), train_lens)  # [M, T, C]
    y_energy = np.cumsum(np.einsum("mtc,mtc->mt", y, y), axis=1)  # prefix sums over frames
    n_frames, n_coords = lens - 1, x.shape[-1]
    cross = x.reshape(len(x), -1) @ y.reshape(len(y), -1).T  # [N, M]
    y_scored = y_energy[:, lens - 1].T - y_energy[:, :1].T  # [N, M]: frames 1 .. L_i - 1 of every train clip
    x_scored = np.einsum("ntc,ntc->n", x, x)[:, None]
    squared = np.maximum(x_scored + y_scored - 2 * cross, 0.0)
    return squared.min(axis=1) / (n_frames * n_coords)


def _pose_track(motion: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Root-relative joints divided by the clip's body scale, root left out: float64 [N, T, 2 (J - 1)]."""
    schema = schema_of(motion.shape[-1])
    pos, root = joint_array(motion, schema)
    pos = pos / np.maximum(body_scale(motion, lengths), SCALE_FLOOR)[:, None, None, None]
    rel = np.delete(pos - pos[:, :, root : root + 1], root, axis=2)
    return rel.reshape(*motion.shape[:2], -1)
