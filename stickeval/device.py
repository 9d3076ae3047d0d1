"""Where work runs: device, dtype and process rank, in one place for generation, training and torchrun.

Every verb resolves its `--device`/`--dtype` here, so that "cuda" means the same GPU for `run`,
`bench` and `finetune`, and a process started by `torchrun` picks its GPU from `LOCAL_RANK`.
"""

from __future__ import annotations

import copy
import os
import platform
from dataclasses import dataclass

import torch
from torch import nn

from stickeval.errors import DeviceError

DTYPES: dict[str, torch.dtype] = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Rank:
    """This process's place in a (torchrun) job: rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 prints progress and writes files; the others only compute."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def current_rank() -> Rank:
    """The rank torchrun assigned to this process (RANK, LOCAL_RANK, WORLD_SIZE), else rank 0 of 1."""
    return Rank(
        rank=int(os.environ.get("RANK", 0)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
    )


def resolve_device(device: str | torch.device | None) -> torch.device:
    """The requested device; by default this rank's GPU (cuda:LOCAL_RANK) when CUDA is available, else CPU.

    A bare "cuda" also means this rank's GPU, so the same command works under torchrun.

    Raises:
        DeviceError: an unknown device string, or CUDA asked for where there is none.
    """
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise DeviceError(f"Unknown device {device!r}; use cpu, cuda or cuda:N.") from e
    if resolved.type not in ("cpu", "cuda"):
        raise DeviceError(f"Device {device!r} is not supported; use cpu, cuda or cuda:N.")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {device} was asked for but this machine has no CUDA device; use --device cpu.")
        if resolved.index is None:
            resolved = torch.device("cuda", current_rank().local_rank)
        if resolved.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {resolved} was asked for but this machine has {torch.cuda.device_count()} CUDA device(s).")
    return resolved


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """bfloat16 on CUDA and float32 on CPU unless asked otherwise.

    Raises:
        DeviceError: a dtype name other than bfloat16, float32 or float64.
    """
    if dtype is None:
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise DeviceError(f"Unknown dtype '{dtype}'. Use {', '.join(DTYPES)}.")
    return DTYPES[dtype]


def device_name(device: torch.device) -> str:
    """The accelerator's name (e.g. "NVIDIA H100 80GB HBM3"), or the CPU's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def on_device(model: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """The model in eval mode on `device` in `dtype`; a copy whenever that changes anything
    (device, dtype, or a model in training mode), so the caller's model is never modified."""
    param = next(model.parameters())
    if param.device != device or param.dtype != dtype or model.training:
        model = copy.deepcopy(model).to(device=device, dtype=dtype)
    return model.eval()
