"""The resumable training state: one dict on disk, written atomically, enough for a bit-identical resume.

Keys: `model` (the unwrapped module's state_dict, adapters included), `optimizer`, `scheduler`,
`step` (optimizer steps done), `epoch` and `position` (batches of `schedule.batch_size` of that epoch
already consumed: the data position), `rng` (python, numpy, torch, cuda), `recipe` (the resolved
recipe), `world_size` (the torchrun processes that wrote it: the data position counts each process's
batches, so a resume needs as many), `micro_batch` (the samples per forward pass the run resolved:
"auto" is probed once, and a resume computes its steps the same way), `stickeval_version`. Every
value is a tensor, number, string, list or dict, so the file loads with `weights_only=True`.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stickeval._io import atomic_path
from stickeval.errors import CheckpointWriteError, TrainStateError, first_line
from stickeval.version import __version__

STATE_FILE = "train_state.pt"


@dataclass
class TrainState:
    """Where a run stands; `model`, `optimizer`, `scheduler` are state_dicts."""

    model: dict
    optimizer: dict
    scheduler: dict
    step: int
    epoch: int
    position: int
    rng: dict
    recipe: dict
    world_size: int = 1
    micro_batch: int | None = None  # None: written before micro-batches were recorded (resolved again)

    def to_dict(self) -> dict:
        return {**self.__dict__, "stickeval_version": __version__}


def capture_rng() -> dict:
    """Every random state a training step can touch: python, numpy, torch CPU and every CUDA device."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": version, "state": torch.tensor(internal, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(rng: dict) -> None:
    """Put back what `capture_rng` took (CUDA states only where this machine has CUDA)."""
    py = rng["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    n = rng["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


def save_state(state: TrainState, directory: str | Path) -> Path:
    """Write `train_state.pt` atomically: on any failure the previous file is left as it was.

    Raises:
        CheckpointWriteError: the write failed (full disk, permissions); nothing was replaced.
    """
    path = Path(directory) / STATE_FILE
    buffer = io.BytesIO()
    torch.save(state.to_dict(), buffer)  # in memory first: torch's zip writer reports a failed write as a RuntimeError
    try:
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getbuffer())
    except OSError as e:
        raise CheckpointWriteError(
            f"Could not write the checkpoint {path} ({first_line(e)}); the previous checkpoint is intact. "
            "Free disk space (or fix permissions), then continue with --resume."
        ) from e
    return path


def check_resumable(directory: str | Path) -> None:
    """Check that `directory` holds a run to resume, without reading it.

    Raises:
        TrainStateError: the directory does not exist, is a file, or has no state file.
    """
    directory = Path(directory)
    fix = "Pass the output directory of an earlier `stickeval train` run."
    if not directory.exists():
        raise TrainStateError(f"{directory} does not exist: there is no run to resume there. {fix}")
    if not directory.is_dir():
        raise TrainStateError(f"{directory} is a file, not a run directory. {fix}")
    if not (directory / STATE_FILE).is_file():
        raise TrainStateError(f"{directory} has no {STATE_FILE} to resume from. {fix}")


def load_state(directory: str | Path) -> TrainState:
    """Read a run directory's `train_state.pt`.

    Raises:
        TrainStateError: as `check_resumable`, or the state file is unreadable.
    """
    check_resumable(directory)
    path = Path(directory) / STATE_FILE
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a truncated or foreign file
        raise TrainStateError(f"{path} is unreadable ({type(e).__name__}: {first_line(e)}). Start the run again without --resume.") from e
    return TrainState(**{k: doc[k] for k in TrainState.__dataclass_fields__ if k in doc})  # world_size: 1 before torchrun
