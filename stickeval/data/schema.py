"""The stick-figure motion schemas: segment layouts (v1, v3), joints, actions, frame rate.

A frame is a flat vector of line segments, each (x_start, y_start, x_end, y_end), segment-major,
2D with y up. v1 has 5 segments (20 numbers), v3 has 12 (48 numbers). Layouts and the 46 actions
with their indices are the original Stick-Gen repository's (`src/data_gen/schema.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FPS = 25
N_FRAMES = 250  # 10 s at 25 fps, the length every Stick-Gen model is trained on


@dataclass(frozen=True)
class Schema:
    """A segment layout: names and (start joint, end joint) of each segment, in vector order."""

    name: str
    segments: tuple[tuple[str, str, str], ...]  # (segment name, start joint, end joint)

    @property
    def dim(self) -> int:
        return 4 * len(self.segments)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """Distinct joints in order of first appearance."""
        seen: dict[str, None] = {}
        for _, start, end in self.segments:
            seen.setdefault(start)
            seen.setdefault(end)
        return tuple(seen)

    def joint_slices(self) -> dict[str, tuple[int, int]]:
        """For each joint, the (x, y) dims of its first occurrence in the vector."""
        out: dict[str, tuple[int, int]] = {}
        for k, (_, start, end) in enumerate(self.segments):
            out.setdefault(start, (4 * k, 4 * k + 1))
            out.setdefault(end, (4 * k + 2, 4 * k + 3))
        return out


# Canonical v1: the order of the original synthetic generator, renderer and exporter.
V1 = Schema(
    "v1",
    (
        ("torso", "neck", "hip"),
        ("left_leg", "hip", "left_foot"),
        ("right_leg", "hip", "right_foot"),
        ("left_arm", "neck", "left_hand"),
        ("right_arm", "neck", "right_hand"),
    ),
)

# v3 (48-dim), `V3_SEGMENT_NAMES` of the original HEAD.
V3 = Schema(
    "v3",
    (
        ("head", "neck", "head_center"),
        ("upper_torso", "neck", "chest"),
        ("lower_torso", "chest", "pelvis_center"),
        ("l_upper_arm", "l_shoulder", "l_elbow"),
        ("l_forearm", "l_elbow", "l_wrist"),
        ("r_upper_arm", "r_shoulder", "r_elbow"),
        ("r_forearm", "r_elbow", "r_wrist"),
        ("l_thigh", "l_hip", "l_knee"),
        ("l_shin", "l_knee", "l_ankle"),
        ("r_thigh", "r_hip", "r_knee"),
        ("r_shin", "r_knee", "r_ankle"),
        ("pelvis_width", "l_hip", "r_hip"),
    ),
)

SCHEMAS = {s.dim: s for s in (V1, V3)}


def schema_for_dim(dim: int) -> Schema:
    """The schema whose vector has `dim` numbers (20 → v1, 48 → v3)."""
    try:
        return SCHEMAS[dim]
    except KeyError:
        raise ValueError(f"No motion schema has {dim} numbers per frame; known: 20 (v1), 48 (v3).") from None


def schema_for_name(name: str) -> Schema:
    """The schema called `name` ("v1" → 20 numbers per frame, "v3" → 48)."""
    for schema in SCHEMAS.values():
        if schema.name == name:
            return schema
    raise ValueError(f"No motion schema is called {name!r}; known: v1 (20 numbers per frame), v3 (48).")


def joints(motion: np.ndarray, schema: Schema | None = None) -> dict[str, np.ndarray]:
    """Joint positions [..., 2] by name, read from the segment endpoints of [..., D] motion."""
    schema = schema or schema_for_dim(motion.shape[-1])
    return {name: motion[..., [ix, iy]] for name, (ix, iy) in schema.joint_slices().items()}


def segment_lengths(motion: np.ndarray) -> np.ndarray:
    """Length of every segment, [..., n_segments]."""
    seg = motion.reshape(*motion.shape[:-1], -1, 4)
    return np.hypot(seg[..., 2] - seg[..., 0], seg[..., 3] - seg[..., 1])


# Root joint of each schema: the point that "root-relative" metrics subtract.
ROOT_JOINT = {"v1": "hip", "v3": "pelvis_center"}

# The 46 members of the original `ActionType`, in enumeration order: the index is the action id.
ACTIONS: tuple[str, ...] = (
    "idle",
    "walk",
    "run",
    "sprint",
    "jump",
    "wave",
    "talk",
    "shout",
    "whisper",
    "sing",
    "point",
    "clap",
    "batting",
    "pitching",
    "catching",
    "running_bases",
    "fielding",
    "throwing",
    "kicking",
    "dribbling",
    "shooting",
    "fight",
    "punch",
    "kick",
    "dodge",
    "sit",
    "stand",
    "kneel",
    "lie_down",
    "eating",
    "drinking",
    "reading",
    "typing",
    "looking_around",
    "climbing",
    "crawling",
    "swimming",
    "flying",
    "celebrate",
    "dance",
    "cry",
    "laugh",
    "handshake",
    "hug",
    "high_five",
    "fight_stance",
)
ACTION_TO_ID = {name: i for i, name in enumerate(ACTIONS)}
