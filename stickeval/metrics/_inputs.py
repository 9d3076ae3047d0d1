"""Validation of the arrays every metric takes, and the mask of the frames a metric scores.

The conventions all of `stickeval.metrics` shares:
- motion is float [N, T, D], D = 20 (schema v1) or 48 (schema v3);
- `lengths[i]` is the number of real frames of clip i; frames >= lengths[i] are padding;
- frame 0 is given to the generator (the prime), so a metric scores frames 1 .. lengths[i] - 1.
Values are converted to float64 so that sums over many frames do not lose precision.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import Schema, schema_for_dim
from stickeval.errors import MetricInputError


def check_motion(
    motion: np.ndarray, lengths: np.ndarray | None = None, *, name: str = "motion", min_length: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Validate one motion array and its lengths.

    Args:
        motion: float [N, T, D] clips.
        lengths: int [N] real frames per clip, or None for "every frame is real".
        name: what the array is called in error messages.
        min_length: the fewest real frames a clip may have for the calling metric.

    Returns:
        (motion as float64 [N, T, D], lengths as int64 [N]).

    Raises:
        MetricInputError: the array is not 3-D, empty, of an unknown schema width, not finite, or a
            length is outside [min_length, T].
    """
    arr = np.asarray(motion, dtype=np.float64)
    if arr.ndim != 3:
        raise MetricInputError(f"{name} must be [clips, frames, dims]; got shape {arr.shape}.")
    n, t, d = arr.shape
    if n == 0:
        raise MetricInputError(f"{name} holds no clips; score at least one clip.")
    schema_of(d, name)
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr).reshape(n, -1).all(axis=1))
        raise MetricInputError(
            f"{name} holds NaN or inf in {bad.size} clip(s) (first: {bad[:5].tolist()}); drop or regenerate them before scoring."
        )
    return arr, check_lengths(lengths, n, t, name=name, min_length=min_length)


def check_lengths(lengths: np.ndarray | None, n: int, n_frames: int, *, name: str, min_length: int) -> np.ndarray:
    """Validate per-clip lengths: int [n] in [min_length, n_frames]; None means all n_frames.

    Raises:
        MetricInputError: wrong shape or dtype, or a length out of range.
    """
    if lengths is None:
        return np.full(n, n_frames, dtype=np.int64)
    lens = np.asarray(lengths)
    if lens.shape != (n,) or not np.issubdtype(lens.dtype, np.integer):
        raise MetricInputError(f"lengths must be an integer array of shape ({n},); got {lens.dtype} {lens.shape}.")
    out_of_range = np.flatnonzero((lens < min_length) | (lens > n_frames))
    if out_of_range.size:
        i = int(out_of_range[0])
        raise MetricInputError(
            f"{out_of_range.size} clip(s) of {name} have a length outside [{min_length}, {n_frames}] "
            f"(clip {i}: {int(lens[i])}); this metric needs at least {min_length} real frames per clip."
        )
    return lens.astype(np.int64)


def check_pair(
    generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None, *, min_length: int = 2
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a paired (generated, reference) batch: same shape, shared lengths.

    Returns:
        (generated float64, reference float64, lengths int64).

    Raises:
        MetricInputError: the shapes differ, or either array fails `check_motion`.
    """
    if np.shape(generated) != np.shape(reference):
        raise MetricInputError(
            f"generated has shape {np.shape(generated)} but reference has {np.shape(reference)}; "
            "paired metrics need the same clips, frames and schema on both sides."
        )
    g, lens = check_motion(generated, lengths, name="generated", min_length=min_length)
    r, _ = check_motion(reference, lens, name="reference", min_length=min_length)
    return g, r, lens


def schema_of(dim: int, name: str = "motion") -> Schema:
    """The schema of a D-wide frame, as a MetricInputError when D is neither 20 nor 48."""
    try:
        return schema_for_dim(dim)
    except ValueError as e:
        raise MetricInputError(f"{name}: {e}") from None


def scored_mask(lengths: np.ndarray, n_frames: int, *, span: int = 0) -> np.ndarray:
    """Which frame windows a metric scores: [N, n_frames - span] bool.

    Window t covers frames t .. t + span (span 0: one frame; span 3: a third difference). It is scored
    when all its frames are real and none is the given frame 0: 1 <= t and t + span <= lengths - 1.
    """
    t = np.arange(n_frames - span)[None, :]
    return (t >= 1) & (t + span < lengths[:, None])


def masked_mean(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of values [N, W, ...] over the windows where mask [N, W] is true (and any trailing axes)."""
    while mask.ndim < values.ndim:
        mask = mask[..., None]
    mask = np.broadcast_to(mask, values.shape)
    count = mask.reshape(mask.shape[0], -1).sum(axis=1)
    total = np.where(mask, values, 0.0).reshape(values.shape[0], -1).sum(axis=1)
    return total / count
