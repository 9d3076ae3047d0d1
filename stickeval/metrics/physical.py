"""Physical plausibility of a rollout: rigid limbs, planted feet, no sinking through the ground.

Stick figures are 2D with y up, but the absolute height of the floor differs between sources (the
real motion capture puts the floor about 2 torso lengths below the hip; the original synthetic
data's feet sit near y = -0.5; the original safety critic assumed y = 0). So the ground is a
convention, and stickeval's is: **the ground of a clip is the lowest foot (ankle) height of its
reference clip over the scored frames.** A copy of the reference therefore never penetrates it.

Thresholds are the field's 3D-human ones (GMD / OmniControl foot skating: contact below 0.05 m, moving
above 0.5 m/s; PhysDiff penetration: 0.005 m tolerance) re-expressed in torso lengths, the unit of `features.body_scale`, taking the real data's torso
of 0.43 m: 0.05 m -> 0.12, 0.5 m/s -> 1.2 torso/s, 0.005 m -> 0.01. All three scores use the
reference's body scale, so a rollout that shrinks is not graded on its own smaller scale.
"""

from __future__ import annotations

import numpy as np

from stickeval.data.schema import FPS, joints, segment_lengths
from stickeval.metrics._inputs import check_motion, check_pair, masked_mean, schema_of, scored_mask
from stickeval.metrics.features import SCALE_FLOOR, body_scale

FEET = {"v1": ("left_foot", "right_foot"), "v3": ("l_ankle", "r_ankle")}
CONTACT_HEIGHT = 0.12  # torso lengths above the ground: a foot this low is in contact
SKATE_SPEED = 1.2  # torso lengths / s: a foot in contact moving faster than this skates
PENETRATION_TOLERANCE = 0.01  # torso lengths below the ground that are not counted


def ground_height(reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """The ground of each clip: the reference's lowest foot y over its scored frames.

    Args:
        reference: float [N, T, D] reference clips.
        lengths: int [N] real frames per clip (None: all T).

    Returns:
        float64 [N] in coordinate units.

    Raises:
        MetricInputError: see `_inputs.check_motion`.
    """
    r, lens = check_motion(reference, lengths, name="reference")
    feet_y = _feet(r)[..., 1]  # [N, T, 2]
    valid = scored_mask(lens, r.shape[1])[..., None]
    return np.where(valid, feet_y, np.inf).min(axis=(1, 2))


def segment_length_instability(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """How much more the rollout's segment lengths vary than the reference's.

    For each segment k: cv_k(x) = std_t(len_k) / mean_t(len_k) over the scored frames (0 for a
    segment of zero length). The score is mean over k of max(0, cv_k(generated) - cv_k(reference)).
    Real 2D projections change a limb's length when it turns out of the image plane, so only
    variation beyond the reference's counts. Unit: a fraction (0.1 = the length wobbles 10% more
    than the reference's). Range [0, inf), lower is better. A copy and a frozen pose score 0 (a frozen
    pose is rigid: read this beside temporal consistency); white noise scores ~0.5 or more.

    Args:
        generated: float [N, T, D] rollouts.
        reference: float [N, T, D] reference clips.
        lengths: int [N] real frames per clip (None: all T).

    Returns:
        float64 [N].

    Raises:
        MetricInputError: shapes differ, D is not 20 or 48, values are not finite, or a length is
            outside [2, T].
    """
    g, r, lens = check_pair(generated, reference, lengths, min_length=3)
    mask = scored_mask(lens, g.shape[1])
    excess = np.maximum(0.0, _length_cv(segment_lengths(g), mask) - _length_cv(segment_lengths(r), mask))
    return excess.mean(axis=1)


def foot_skating(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Fraction of frame steps in which a foot in contact with the ground slides.

    A foot is in contact over step t -> t+1 when its height above the ground (`ground_height`) is
    below 0.12 torso lengths in both frames; it skates when, in contact, its horizontal speed
    |x[t+1] - x[t]| * fps exceeds 1.2 torso lengths / s. A step skates when either foot does; the
    score is skating steps / scored steps. Unit: a fraction; range [0, 1], lower is better. A frozen
    pose scores 0; a copy scores the reference's own rate (small for real motion); white noise near
    the ground scores high.

    Args / Returns / Raises: as `segment_length_instability`.
    """
    g, r, lens = check_pair(generated, reference, lengths, min_length=3)
    scale = np.maximum(body_scale(r, lens), SCALE_FLOOR)[:, None, None]
    feet = _feet(g)  # [N, T, 2 feet, 2]
    height = (feet[..., 1] - ground_height(r, lens)[:, None, None]) / scale  # [N, T, 2]
    contact = (height[:, 1:] < CONTACT_HEIGHT) & (height[:, :-1] < CONTACT_HEIGHT)  # [N, T-1, 2]
    speed = np.abs(np.diff(feet[..., 0], axis=1)) * FPS / scale
    skating = (contact & (speed > SKATE_SPEED)).any(axis=-1).astype(np.float64)
    return masked_mean(skating, scored_mask(lens, g.shape[1], span=1))


def ground_penetration(generated: np.ndarray, reference: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Mean depth of the lowest foot below the ground, in torso lengths.

    depth_t = max(0, ground - 0.01 - min(foot y at t)) / s, averaged over the scored frames, with
    the ground from `ground_height` and s the reference's body scale. Range [0, inf), lower is better.
    A copy scores exactly 0 (the ground is its own lowest foot); a frozen first frame scores 0 when
    that frame stands on the ground; white noise scores its mean excursion below the feet.

    Args / Returns / Raises: as `segment_length_instability`.
    """
    g, r, lens = check_pair(generated, reference, lengths)
    scale = np.maximum(body_scale(r, lens), SCALE_FLOOR)
    lowest = _feet(g)[..., 1].min(axis=-1)  # [N, T]
    ground = ground_height(r, lens)[:, None]
    depth = np.maximum(0.0, ground - PENETRATION_TOLERANCE * scale[:, None] - lowest) / scale[:, None]
    return masked_mean(depth, scored_mask(lens, g.shape[1]))


def _feet(motion: np.ndarray) -> np.ndarray:
    """Both feet of [N, T, D] motion: [N, T, 2 feet, 2 coords]."""
    schema = schema_of(motion.shape[-1])
    by_name = joints(motion, schema)
    return np.stack([by_name[f] for f in FEET[schema.name]], axis=-2)


def _length_cv(seg_len: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Coefficient of variation of each segment's length over the masked frames: [N, S]."""
    m = mask[..., None]
    count = m.sum(axis=1)
    mean = np.where(m, seg_len, 0.0).sum(axis=1) / count
    var = np.where(m, (seg_len - mean[:, None, :]) ** 2, 0.0).sum(axis=1) / count
    return np.divide(np.sqrt(var), mean, out=np.zeros_like(mean), where=mean > 0)
