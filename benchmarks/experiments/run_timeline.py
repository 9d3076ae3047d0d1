"""Where the wall time of one `stickeval run` process goes: the spans of its phases, on every thread.

    START=$(date +%s.%N) PYTHONPATH=. python benchmarks/experiments/run_timeline.py TIMELINE.json run MODEL --suite standard ...

Runs the CLI in this process with the phases below wrapped in timers (this script only: the package
is unchanged), and writes every span (name, thread, start and end in seconds since $START, the
shell's clock before the interpreter started) to TIMELINE.json, the last one being the atexit
handlers'. Compare the last span's end with the shell's clock after the process to see the exit.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import threading
import time

T0 = float(os.environ.get("START", time.time()))
SPANS: list[dict] = [{"name": "interpreter start-up", "thread": "MainThread", "start": 0.0, "end": time.time() - T0}]


def _span(name: str, started: float) -> None:
    SPANS.append({"name": name, "thread": threading.current_thread().name, "start": started - T0, "end": time.time() - T0})


def _write(path: str) -> None:
    _span("atexit (this handler runs last)", time.time())
    with open(path, "w") as f:
        json.dump(SPANS, f, indent=1)


atexit.register(_write, sys.argv[1])  # registered first, so run after every other atexit handler
_register = atexit.register


def _timed_register(fn, *args, **kwargs):
    """atexit.register, with the handler's run time recorded (torch registers some when imported)."""

    def timed():
        t = time.time()
        try:
            fn(*args, **kwargs)
        finally:
            _span(f"atexit: {getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}", t)

    _register(timed)
    return fn


atexit.register = _timed_register

started = time.time()
import stickeval.cli  # noqa: E402
import stickeval.evaluation.cache as rollout_cache  # noqa: E402
import stickeval.evaluation.run as evaluation  # noqa: E402
import stickeval.evaluation.scoring as scoring  # noqa: E402
import stickeval.evaluation.scoring_setup as scoring_setup  # noqa: E402
import stickeval.generation as generation  # noqa: E402
import stickeval.zoo as zoo  # noqa: E402
from stickeval.cli import output, run  # noqa: E402

_span("imports (torch, stickeval)", started)


def _wrap(owner, attr: str) -> None:
    inner = getattr(owner, attr)
    name = f"{getattr(owner, '__name__', owner)}.{attr}".removeprefix("stickeval.")

    @functools.wraps(inner)
    def timed(*args, **kwargs):
        t = time.time()
        try:
            return inner(*args, **kwargs)
        finally:
            _span(name, t)

    setattr(owner, attr, timed)


for owner, attrs in [
    (zoo, ["load"]),
    (
        evaluation,
        [
            "evaluate",
            "build_suite",
            "plan_prompts",
            "on_device",
            "resolve_batch_size",
            "model_hash",
            "generate",
            "teacher_forced",
            "score_run",
            "score_suite",
        ],
    ),
    (generation, ["_rollout_batch"]),
    (rollout_cache.RolloutCache, ["fill", "_write_chunk", "read_all"]),
    (
        scoring,
        [
            "context_families",
            "_fill_shared",
            "score_suite",
            "_suite_rows",
            "_context_rows",
            "_reference_rows",
            "_noise_scores",
            "bootstrap_by_group",
            "_git_hash",
            "write_text_atomic",
        ],
    ),
    (scoring_setup, ["reference_splits", "load_or_fit_classifier", "_load_evaluator"]),
    (scoring_setup.ScoringSetup, ["__init__"]),
    (run, ["_report"]),
    (output, ["print_json"]),
]:
    for attr in attrs:
        _wrap(owner, attr)

sys.argv = ["stickeval", *sys.argv[2:]]
started = time.time()
try:
    stickeval.cli.main()
except SystemExit as e:
    if e.code:
        raise
finally:
    _span("stickeval.cli.main", started)
