"""`stickeval run --nproc N`: the same command as N processes through PyTorch's torchrun, failures in one line.

It is `torchrun --standalone --nproc-per-node N -m stickeval run ...` (torch.distributed.run, in this
process): torchrun starts the ranks, and when one exits non-zero it stops the others and reports
the first failure. Instead of torchrun's traceback and table, the user gets one line naming that
rank and its error (each rank leaves its message in torchrun's error file; a killed rank is named
with its signal).
"""

from __future__ import annotations

import logging
import os

from stickeval.errors import DistributedError


def torchrun(nproc: int, args: list[str]) -> None:
    """Run `stickeval <args>` as `nproc` torchrun processes on this machine; return when all succeeded.

    Raises:
        DistributedError: already inside a torchrun job, or a rank failed (names it, its exit code or
            signal, and its message).
    """
    if int(os.environ.get("WORLD_SIZE", 1)) > 1:
        raise DistributedError("--nproc was given inside a torchrun job; drop --nproc (torchrun already started the processes).")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # its failure log; we say it in one line
    try:
        run(parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "stickeval", *args]))
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        if failure.exitcode < 0:
            what = f"was killed by {failure.signal_name()}"
        elif failure.error_file_data.get("message") not in (None, "<NONE>"):  # the rank wrote its one-line error
            what = f"failed: {failure.message.removeprefix(f'rank {rank} of {nproc}: ').rstrip('.')}"
        else:
            what = f"exited with code {failure.exitcode} (its output above says why)"
        raise DistributedError(
            f"rank {rank} of {nproc} {what}; torchrun stopped the other ranks. "
            "Finished chunks are kept: fix the cause, then rerun with --resume (any --nproc)."
        ) from None
