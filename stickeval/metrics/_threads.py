"""Threads of the metrics: one thread for their numeric kernels (BLAS, and OpenMP inside scikit-learn),
and how many threads a metric may run side by side (`workers`).

The matrices here are small (114 x 114 covariances, a logistic regression on ~1,000 clips). On 2
busy cores, BLAS / OpenMP threads made the Fréchet distance 10x and the classifier fit 30x slower
(measured), and one thread makes results independent of the machine's thread count to the last digit.
Metrics that split their work into independent pieces (the Fréchet-distance bootstrap) run them on
`workers()` threads: the CPUs the process may use, within the limit a run sets (`worker_limit`,
from its `--threads`); the pieces are fixed, so the numbers do not depend on the count.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

# Packages whose import loads another thread pool (OpenMP runtimes, a second BLAS). numpy's BLAS is
# loaded with numpy itself, before any metric runs.
_POOL_PACKAGES = ("scipy", "sklearn", "torch")
_controller: tuple[tuple[bool, ...], ThreadpoolController] | None = None


def one_thread() -> AbstractContextManager:
    """A context manager: every thread pool loaded so far (BLAS, OpenMP) runs on one thread inside it.

    Finding the pools means walking every shared library in the process: 4 ms a call on a CPU-only
    machine with torch loaded, and a profile of `run` on an H200 host (CUDA libraries loaded) put
    10 s of a 50 s scoring in 36 such scans. The scan is done once, and again only after one of
    `_POOL_PACKAGES` is first imported, so a pool that scikit-learn loads later is limited too.
    """
    global _controller
    loaded = tuple(name in sys.modules for name in _POOL_PACKAGES)
    if _controller is None or _controller[0] != loaded:
        _controller = (loaded, ThreadpoolController())
    return _controller[1].limit(limits=1)


_worker_limit: int | None = None


@contextlib.contextmanager
def worker_limit(n: int) -> Iterator[None]:
    """Inside the block, metrics run at most `n` threads side by side (`workers`), whichever thread asks.

    Scoring enters it with its share of the run's CPU budget (`stickeval.device.thread_plan`).
    """
    global _worker_limit
    before, _worker_limit = _worker_limit, n
    try:
        yield
    finally:
        _worker_limit = before


def workers(most: int) -> int:
    """Threads a metric may run side by side: the CPUs of the process's affinity mask, at most `most`
    and at most the `worker_limit` in force."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, most, _worker_limit or cpus))
