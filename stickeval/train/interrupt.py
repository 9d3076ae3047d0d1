"""Ctrl-C during training: finish the optimizer step in progress, then stop with a checkpoint.

A KeyboardInterrupt raised inside a step would leave the weights, the optimizer and the schedule out
of step with one another, with nothing resumable to save. `StopRequest` turns the first Ctrl-C into
a request the loop reads between optimizer steps (a Python flag: no wait for the device). An
evaluation changes nothing a checkpoint holds, so inside `interruptible()` Ctrl-C stops at once. A
second Ctrl-C always stops at once, without a checkpoint.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequest:
    """A context manager that catches Ctrl-C (SIGINT) while it is entered; `requested` says whether it came.

    Enabled only in the main thread (the only one Python delivers signals to) and when `enabled`
    (off under torchrun, where the processes would not stop at the same step); disabled, Ctrl-C
    raises KeyboardInterrupt as usual.
    """

    def __init__(self, *, enabled: bool = True):
        self.requested = False
        self._enabled = enabled and threading.current_thread() is threading.main_thread()
        self._at_once = False
        self._previous: object = None

    def __enter__(self) -> StopRequest:
        if self._enabled:
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._enabled:
            signal.signal(signal.SIGINT, self._previous)

    def _on_interrupt(self, signum: int, frame: object) -> None:
        stop_now = self.requested or self._at_once
        self.requested = True
        if stop_now:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """A block that Ctrl-C stops at once with a KeyboardInterrupt (the stop is still `requested`)."""
        self._at_once = True
        try:
            yield
        finally:
            self._at_once = False
