"""How fast `stickeval --help`, `--version` and a usage error answer (goal: < 0.5 s each; figure in docs/benchmarks.md).

    make bench     # or: .venv/bin/python -m pytest benchmarks/cpu/test_cli_startup.py --benchmark-enable

Each round starts the installed `stickeval` entry point in a fresh process, as a user's shell does,
so the figure includes the interpreter's start and every import the CLI makes before answering.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

GOAL_SECONDS = 0.5
STICKEVAL = shutil.which("stickeval", path=str(Path(sys.executable).parent)) or "stickeval"


def _answer(*args: str, expected_code: int) -> None:
    done = subprocess.run([STICKEVAL, *args], capture_output=True, text=True, check=False)
    assert done.returncode == expected_code, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "expected_code"),
    [(("--help",), 0), (("--version",), 0), (("run",), 2)],
    ids=["help", "version", "usage-error"],
)
def test_the_cli_answers_help_version_and_usage_errors_within_half_a_second(benchmark, args, expected_code):
    benchmark.pedantic(_answer, args=args, kwargs={"expected_code": expected_code}, rounds=10, iterations=1, warmup_rounds=1)
    if benchmark.stats is None:  # --benchmark-disable: the code ran once, untimed; the goal is checked by `make bench`
        return
    benchmark.extra_info["goal_seconds"] = GOAL_SECONDS
    assert benchmark.stats.stats.median < GOAL_SECONDS
