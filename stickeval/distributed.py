"""The torchrun process group for `run` and `finetune`: join it, agree, wait with a timeout, leave it.

A process started by `torchrun` (RANK, LOCAL_RANK, WORLD_SIZE in its environment) joins the job's
process group through `process_group(device)`: gloo on CPU; on CUDA, NCCL for tensors on the GPU
(DistributedDataParallel's gradients) with gloo beside it for the small CPU messages (a barrier, a
count), whose waits can then be bounded and name the rank that did not arrive. A lone process gets
a group of one whose calls cost nothing, so callers never branch on the process count.

Every wait is bounded by `timeout_seconds()` (STICKEVAL_DIST_TIMEOUT_S, default 1,800 s): a rank
that hangs turns into a `DistributedError` on the others, never an endless wait. A rank that dies is
caught sooner by torchrun itself, which stops the other ranks and exits non-zero naming the rank.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta

import torch
import torch.distributed as dist

from stickeval._io import write_text_atomic
from stickeval.device import Rank, current_rank
from stickeval.errors import DistributedError, first_line

TIMEOUT_ENV = "STICKEVAL_DIST_TIMEOUT_S"
DEFAULT_TIMEOUT_S = 1800.0  # as torch's own gloo default: a rank may wait this long for a slower one's last chunk


def timeout_seconds() -> float:
    """How long one rank waits for the others (STICKEVAL_DIST_TIMEOUT_S, default 1,800 s).

    Raises:
        DistributedError: the variable is set but is not a positive number.
    """
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise DistributedError(f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds; unset it or set e.g. 1800.")
    return value


class Group:
    """This process's view of the job: its rank, and the few collective calls `run` and `finetune` make."""

    def __init__(self, rank: Rank, timeout: float):
        self.rank, self.timeout = rank, timeout

    def barrier(self, what: str) -> None:
        """Wait until every rank has reached this point (at most the timeout).

        Raises:
            DistributedError: a rank did not arrive in time, or its process is gone; names `what`.
        """
        if not self.rank.distributed:
            return
        try:
            dist.monitored_barrier(timeout=timedelta(seconds=self.timeout), wait_all_ranks=True)
        except RuntimeError as e:
            raise DistributedError(
                f"rank {self.rank.rank} of {self.rank.world_size} waited in vain for the other ranks to finish {what} "
                f"({first_line(e)}); the failing rank's error is above. Finished work is kept: rerun with --resume."
            ) from e

    def all_reduce(self, values: list[float], op: str = "sum") -> list[float]:
        """`values` summed ("sum"), or their minimum ("min"), over the ranks (as given on one process)."""
        if not self.rank.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64)
        try:
            dist.all_reduce(t, op=dist.ReduceOp.MIN if op == "min" else dist.ReduceOp.SUM)
        except RuntimeError as e:
            raise DistributedError(
                f"rank {self.rank.rank} of {self.rank.world_size} lost the other ranks ({first_line(e)}); "
                "the failing rank's error is above. Rerun with --resume."
            ) from e
        return t.tolist()


def _backend(device: torch.device) -> str:
    """gloo for CPU tensors always (bounded barriers); NCCL beside it for CUDA tensors on a GPU job."""
    return "cpu:gloo,cuda:nccl" if device.type == "cuda" else "gloo"


@contextlib.contextmanager
def process_group(device: torch.device) -> Iterator[Group]:
    """Join torchrun's process group for the block (and leave it after); a group of one when not under torchrun.

    A group that is already initialised (a caller's own) is used and left in place.

    Raises:
        DistributedError: WORLD_SIZE says several processes but the group cannot be formed (not
            launched by torchrun, or the other ranks never came).
    """
    rank, timeout = current_rank(), timeout_seconds()
    created = False
    if rank.distributed and not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ:
            raise DistributedError(
                f"WORLD_SIZE={rank.world_size} is set but MASTER_ADDR is not: launch with "
                "`torchrun --nproc-per-node N -m stickeval ...` (or `stickeval run --nproc N`), or unset WORLD_SIZE."
            )
        try:
            dist.init_process_group(backend=_backend(device), timeout=timedelta(seconds=timeout))
        except (RuntimeError, ValueError) as e:
            raise DistributedError(
                f"rank {rank.rank} of {rank.world_size} could not join the torchrun job ({first_line(e)}); "
                "check that every rank was started by the same torchrun command."
            ) from e
        created = True
    try:
        yield Group(rank, timeout)
    finally:
        if created:
            dist.destroy_process_group()


def record_error(message: str) -> None:
    """Leave this rank's one-line error where torchrun looks for it (TORCHELASTIC_ERROR_FILE, set by
    torchrun for each process), so that its failure report shows the message beside the rank."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        write_text_atomic(path, json.dumps({"message": message, "timestamp": int(time.time())}))
