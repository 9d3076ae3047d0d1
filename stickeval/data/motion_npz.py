"""Motion `.npz` files (the real-motion track's layout) read as a Suite, and where the real track lives.

The loader is generic: any `.npz` with `motion` [N, T, 20|48] and `label` [N] arrays (plus optional
per-clip arrays) works; the real motion-capture track (`realmotion_path()`) is one such file.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from stickeval.data.schema import ACTIONS, SCHEMAS
from stickeval.data.suite import MIN_FRAMES, Suite
from stickeval.errors import DatasetError

REALMOTION_ENV = "STICKEVAL_REALMOTION"
# Beside the checkout: <root>/../shared/realmotion/ (never copied into the project).
REALMOTION_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "realmotion" / "bandai_namco_stick.npz"
REALMOTION_DATASETS = ("dataset-2",)  # 10 labels with 175-444 clips each: the evaluation core
# Forward locomotion reads best from the side: these labels use `motion_sagittal` when present.
SAGITTAL_LABELS = frozenset({"walk", "walk-back", "walk-turn-left", "walk-turn-right", "run", "dash"})
# Per-frame action ids of real labels (the label itself stays the classifier's target).
REAL_LABEL_ACTIONS = {
    "walk": "walk",
    "walk-back": "walk",
    "walk-left": "walk",
    "walk-right": "walk",
    "walk-turn-left": "walk",
    "walk-turn-right": "walk",
    "run": "run",
    "dash": "sprint",
    "raise-up-both-hands": "celebrate",
    "raise-up-left-hand": "wave",
    "raise-up-right-hand": "wave",
    "wave-both-hands": "wave",
    "wave-left-hand": "wave",
    "wave-right-hand": "wave",
    "bye": "wave",
    "byebye": "wave",
    "call": "wave",
    "guide": "point",
    "bow": "idle",
    "respond": "talk",
    "dance-short": "dance",
    "kick": "kick",
    "punch": "punch",
    "slash": "fight",
}


def realmotion_path() -> Path:
    """The real-motion file: $STICKEVAL_REALMOTION if set, else ../shared/realmotion/ beside the checkout."""
    return Path(os.environ.get(REALMOTION_ENV) or REALMOTION_DEFAULT)


def read_motion_npz(path: str | os.PathLike, *, datasets: tuple[str, ...] | None = REALMOTION_DATASETS) -> Suite:
    """A motion `.npz` (the real-motion track's layout) as a Suite, every clip, in file order.

    Needs `motion` [N, T, 20|48] and `label` [N]. Uses when present: `length` (else T),
    `motion_sagittal` (for `SAGITTAL_LABELS`), `floor_y` (subtracted from every y so the floor is
    y = 0, StickBench's convention), `dataset` (kept if in `datasets`; None keeps all),
    `style` (worded into the prompt), `source_file` and `start_frame` (the id). Each label must be
    a schema action (`schema.ACTIONS`) or a real-motion label of `REAL_LABEL_ACTIONS`: it sets the
    clip's action track.

    Raises:
        DatasetError: the file is missing or unreadable, lacks `motion`/`label`, has a per-clip
            array of another length, an unknown label, or a clip shorter than `suite.MIN_FRAMES`.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"Real-motion file {path} not found. Put bandai_namco_stick.npz in ../shared/realmotion/ "
            f"beside the checkout, or set {REALMOTION_ENV}=/path/to/file.npz.",
            path=str(path),
        )
    from stickeval.data.prompts import real_prompt

    try:
        with np.load(path, allow_pickle=False) as data:
            clips = _motion_columns(data, datasets, path.stem)
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as e:
        raise DatasetError(
            f"{path} is not a motion .npz with 'motion' [N, T, 20|48] and 'label' [N] arrays, and optional "
            f"per-clip arrays of length N ({type(e).__name__}: {e}).",
            path=str(path),
        ) from e
    labels, motion, lengths = clips["label"], clips["motion"], clips["length"]
    n_frames = motion.shape[1]
    unknown = sorted(set(labels.tolist()) - set(REAL_LABEL_ACTIONS) - set(ACTIONS))
    if unknown:
        raise DatasetError(
            f"{path}: labels {unknown[:5]} ({len(unknown)} in all) are neither stickeval actions nor known "
            "real-motion labels. Relabel those clips with actions from stickeval.data.ACTIONS (walk, wave, "
            "idle, ...), or drop them.",
            path=str(path),
        )
    short = np.flatnonzero((lengths < MIN_FRAMES) | (lengths > n_frames))
    if short.size:
        i = int(short[0])
        raise DatasetError(
            f"{path}: {short.size} clip(s) have a length outside [{MIN_FRAMES}, {n_frames}] frames (clip {i}: "
            f"{int(lengths[i])}); the metrics need at least {MIN_FRAMES}. Drop those clips or fix 'length'.",
            path=str(path),
        )
    action_ids = [ACTIONS.index(REAL_LABEL_ACTIONS.get(x, x)) for x in labels]
    return Suite.build(
        name=path.stem,
        version=path.stem,
        ids=[f"{s}#{int(f)}" for s, f in zip(clips["source_file"], clips["start_frame"])],
        prompts=[real_prompt(x, s) for x, s in zip(labels, clips["style"])],
        motion=motion.astype(np.float32),
        actions=np.repeat(np.array(action_ids, dtype=np.int64)[:, None], n_frames, axis=1),
        lengths=lengths,
        labels=labels.tolist(),
    )


def _motion_columns(data: np.lib.npyio.NpzFile, datasets: tuple[str, ...] | None, stem: str) -> dict[str, np.ndarray]:
    """The kept clips' arrays of an open motion `.npz`, read into memory, with the viewing conventions applied.

    Raises:
        KeyError, ValueError, IndexError: `motion`/`label` missing, bad shapes, or a per-clip array of
            another length (the caller turns them into one DatasetError).
    """
    labels_all = data["label"]
    keep = np.ones(len(labels_all), bool) if datasets is None or "dataset" not in data else np.isin(data["dataset"], datasets)
    labels = labels_all[keep].astype(str)
    motion = data["motion"][keep]
    if motion.ndim != 3 or motion.shape[2] not in SCHEMAS:
        raise ValueError(f"'motion' has shape {motion.shape}")
    if "motion_sagittal" in data:
        side = np.isin(labels, list(SAGITTAL_LABELS))
        motion[side] = data["motion_sagittal"][keep][side]
    if "floor_y" in data:
        motion[..., 1::2] -= data["floor_y"][keep][:, None, None].astype(motion.dtype)
    n_kept, n_frames = motion.shape[:2]

    def column(key: str, default: np.ndarray) -> np.ndarray:
        return data[key][keep] if key in data else default

    return {
        "label": labels,
        "motion": motion,
        "length": column("length", np.full(n_kept, n_frames)).astype(np.int64),
        "style": column("style", np.full(n_kept, "normal")).astype(str),
        "source_file": column("source_file", np.array([f"{stem}/{i}" for i in range(n_kept)])).astype(str),
        "start_frame": column("start_frame", np.zeros(n_kept, dtype=np.int64)),
    }
