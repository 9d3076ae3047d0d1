"""Where work runs: device, dtype, CPU threads and process rank, in one place for generation, scoring,
training and torchrun.

Every verb resolves its `--device`/`--dtype` here, so that "cuda" means the same GPU for `run`,
`bench` and `finetune`, and a process started by `torchrun` picks its GPU from `LOCAL_RANK`.

CPU threads follow one policy. A process keeps at most `cpu_budget` threads busy (`--threads`, else
`OMP_NUM_THREADS`, else the CPUs its affinity mask allows but one, left to the rest of the machine).
torch's threads wait for each other at every operation, so a team that loses a core to another
process stalls: on 2 cores shared with other jobs (load 12), 64 nano rollouts took 10 s on one torch
thread and 208 s on two. Within the budget, `run` generates on all threads but one and scores the
reference and context rows beside it on the last (`thread_plan`; with a budget of one thread,
scoring follows generation); `bench` and training use the whole budget; scoring runs one torch
thread per scoring thread, its parallelism being its own threads.
"""

from __future__ import annotations

import contextlib
import copy
import os
import platform
from collections.abc import Iterator
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


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (taskset, cgroups cpusets), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _explicit_threads(threads: int | None) -> int | None:
    """`threads` (`--threads`) when given, else `OMP_NUM_THREADS` when set, else None.

    Raises:
        DeviceError: `threads` below 1, or an `OMP_NUM_THREADS` that is not a positive integer.
    """
    if threads is not None:
        if threads < 1:
            raise DeviceError(f"--threads must be at least 1, got {threads}.")
        return threads
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if not env:
        return None
    if not env.isdigit() or int(env) < 1:
        raise DeviceError(f"OMP_NUM_THREADS={env!r} is not a positive number of threads; set it to one (e.g. 1), or unset it.")
    return int(env)


def cpu_budget(threads: int | None = None) -> int:
    """How many threads this process may keep busy: `threads` (`--threads`) when given, else an
    explicit `OMP_NUM_THREADS`, else all the CPUs of its affinity mask (`available_cpus`) but one.

    The spare CPU is for the rest of the machine: on a small shared machine (a 2-core CI runner) a
    second busy process then takes the spare core instead of stalling torch's team at every
    parallel region, so a run beside it takes about as long as alone.

    Raises:
        DeviceError: as `_explicit_threads`.
    """
    return _explicit_threads(threads) or max(1, available_cpus() - 1)


@dataclass(frozen=True)
class ThreadPlan:
    """How one run shares its CPU budget between generation and scoring (`thread_plan`).

    budget: threads the process may keep busy (`cpu_budget`).
    generation: torch threads of the generating thread.
    score_beside: whether the results' rows that no model output enters (reference, context) are
        scored in a thread while the model generates.
    scoring_workers: threads that scoring beside generation may run side by side (each with one
        torch and one BLAS thread); once generation is done, scoring may use the whole budget.
    """

    budget: int
    generation: int
    score_beside: bool
    scoring_workers: int


SCORING_THREADS = 1  # torch threads per scoring thread: scoring's parallelism is its own threads (rows, bootstrap pieces)


def thread_plan(device: torch.device, threads: int | None = None) -> ThreadPlan:
    """The threads of a run on `device` within `cpu_budget(threads)`.

    On CUDA the GPU generates, fed by one CPU thread, and the scoring thread beside it may use the
    rest of the budget. On the CPU, generation takes the budget but one thread and scoring beside
    it the last one; with a budget of one thread, scoring waits for generation.

    Raises:
        DeviceError: as `cpu_budget`.
    """
    budget = cpu_budget(threads)
    if device.type == "cuda":
        return ThreadPlan(budget, 1, True, max(1, budget - 1))
    return ThreadPlan(budget, max(1, budget - 1), budget > 1, 1)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run torch's operations of the calling thread on `n` threads inside the block; restored after.

    torch keeps the count per thread, and a thread takes the process's last setting when it first
    runs a parallel operation: the count is set and taken at once, and threads started inside the
    block (scoring's pools) start with `n` too.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    torch.get_num_threads()  # takes the setting for this thread now, before another thread changes it
    try:
        yield
    finally:
        torch.set_num_threads(before)
