"""Inputs for the metric tests: reference clips from two sources and the degenerate variants made from them.

`clips` is parametrized over two sources, so a test that takes it (or `variants`) runs on both:
- "stickbench": StickBench quick's test split (127 clips, every action), built in a fraction of a
  second from the package: these runs happen on every machine;
- "real": a fixed, seeded subsample of the real track (40 dataset-2 clips, frontal view): these
  runs skip where ../shared/realmotion is absent.
Every clip is cut to 100 real frames, so any two can be paired. A test that states a fact about one
source only pins it with `@pytest.mark.parametrize("clips", ["real"], indirect=True)`.
The variants are what the metrics must tell apart: a copy, a time-shifted copy, a clip of another
action, a frozen first frame, white noise (standard normal, as the original's mock data), white noise
around the clip's mean pose (sd 0.5 torso: noise where the body is, feet near the ground) and the
real frames in shuffled order. `figures` builds exact synthetic stick figures for known-answer tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from stickeval.data.schema import V1, V3, Schema
from stickeval.data.stickbench import load_suite

SOURCES = ("stickbench", "real")
CLIP_FRAMES = 100  # real frames per test clip (4 s at 25 fps)
N_REAL_CLIPS = 40


@dataclass(frozen=True)
class Clips:
    source: str  # "stickbench" or "real"
    motion: np.ndarray  # float64 [N, 250, 20]
    lengths: np.ndarray  # int64 [N]
    labels: list[str]


def cut(source: str, motion: np.ndarray, labels: list[str]) -> Clips:
    """Clips cut to their first CLIP_FRAMES frames; the padding holds the last of them."""
    motion = np.array(motion, dtype=np.float64)
    motion[:, CLIP_FRAMES:] = motion[:, CLIP_FRAMES - 1 : CLIP_FRAMES]
    return Clips(source, motion, np.full(len(motion), CLIP_FRAMES, dtype=np.int64), [str(x) for x in labels])


@pytest.fixture(scope="session")
def realmotion(realmotion_path) -> dict[str, np.ndarray]:
    """The arrays of the real track the tests use (loaded once per session)."""
    with np.load(realmotion_path) as data:
        return {k: data[k] for k in ("motion", "motion_sagittal", "length", "label", "dataset", "source_file")}


@pytest.fixture(scope="session")
def real_clips(realmotion) -> Clips:
    """40 seeded dataset-2 clips, frontal view, each cut to 100 real frames."""
    rng = np.random.default_rng(0)
    pool = np.flatnonzero((realmotion["dataset"] == "dataset-2") & (realmotion["length"] >= CLIP_FRAMES))
    idx = np.sort(rng.choice(pool, N_REAL_CLIPS, replace=False))
    return cut("real", realmotion["motion"][idx], realmotion["label"][idx].tolist())


@pytest.fixture(scope="session")
def stickbench_clips() -> Clips:
    """StickBench quick's test split, each clip cut to 100 real frames."""
    suite = load_suite("quick", split="test")
    return cut("stickbench", suite.motion, suite.labels)


@pytest.fixture(scope="session", params=SOURCES)
def clips(request) -> Clips:
    """The reference clips of one source (see the module docstring); "real" skips where absent."""
    return request.getfixturevalue(f"{request.param}_clips")


@pytest.fixture(scope="session")
def variants(clips) -> dict[str, np.ndarray]:
    """Degenerate and plausible-but-wrong versions of `clips`, keyed by name."""
    ref, n = clips.motion, CLIP_FRAMES
    rng = np.random.default_rng(1)
    labels = np.array(clips.labels)
    other = np.array([rng.choice(np.flatnonzero(labels != lab)) for lab in labels])
    frames = np.arange(ref.shape[1])
    shifted_frames = np.where(frames >= 1, np.minimum(frames + 10, n - 1), 0)  # 0.4 s ahead, last frame held
    shuffled = ref.copy()
    for i in range(len(ref)):
        shuffled[i, 1:n] = ref[i, 1 + rng.permutation(n - 1)]
    return {
        "copy": ref.copy(),
        "shifted": ref[:, shifted_frames],
        "other": ref[other],
        "frozen": np.repeat(ref[:, :1], ref.shape[1], axis=1),
        "noise": rng.standard_normal(ref.shape),
        "pose_noise": ref[:, 1:n].mean(axis=1, keepdims=True) + 0.5 * rng.standard_normal(ref.shape),
        "shuffled": shuffled,
    }


class Figures:
    """Exact synthetic stick figures, built joint by joint, for known-answer tests."""

    # A standing figure, torso 1.0, feet on y = 0 (v1: the original synthetic skeleton's proportions).
    STANDING = {
        "v1": {
            "neck": (0.0, 2.5),
            "hip": (0.0, 1.5),
            "left_foot": (-0.3, 0.0),
            "right_foot": (0.3, 0.0),
            "left_hand": (-0.6, 1.7),
            "right_hand": (0.6, 1.7),
        },
        "v3": {
            "neck": (0.0, 2.5),
            "head_center": (0.0, 2.8),
            "chest": (0.0, 2.0),
            "pelvis_center": (0.0, 1.5),
            "l_shoulder": (-0.2, 2.4),
            "l_elbow": (-0.3, 2.0),
            "l_wrist": (-0.35, 1.6),
            "r_shoulder": (0.2, 2.4),
            "r_elbow": (0.3, 2.0),
            "r_wrist": (0.35, 1.6),
            "l_hip": (-0.15, 1.5),
            "l_knee": (-0.2, 0.75),
            "l_ankle": (-0.25, 0.0),
            "r_hip": (0.15, 1.5),
            "r_knee": (0.2, 0.75),
            "r_ankle": (0.25, 0.0),
        },
    }

    @staticmethod
    def schema(name: str) -> Schema:
        return {"v1": V1, "v3": V3}[name]

    @classmethod
    def joint_tracks(cls, schema: str, n_frames: int) -> dict[str, np.ndarray]:
        """The standing pose held for n_frames: joint name -> float64 [n_frames, 2]."""
        return {j: np.tile(np.array(xy, dtype=np.float64), (n_frames, 1)) for j, xy in cls.STANDING[schema].items()}

    @classmethod
    def motion(cls, schema: str, tracks: dict[str, np.ndarray]) -> np.ndarray:
        """[n_frames, D] segment vector from joint tracks (every endpoint of a joint gets its track)."""
        segments = cls.schema(schema).segments
        return np.concatenate([np.concatenate([tracks[a], tracks[b]], axis=1) for _, a, b in segments], axis=1)

    @classmethod
    def standing(cls, schema: str, n_frames: int) -> np.ndarray:
        """The standing pose held still: [n_frames, D]."""
        return cls.motion(schema, cls.joint_tracks(schema, n_frames))


@pytest.fixture
def figures() -> type[Figures]:
    return Figures
