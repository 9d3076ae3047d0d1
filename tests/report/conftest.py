"""Run directories for the report tests, made by the real pipeline on tiny random-weight checkpoints (once per session).

The shared `tiny_runs` (tests/fixtures/run_fixtures.py) supplies the checkpoint, a StickBench run and a run
on another suite; the first is copied and re-scored with samples.jsonl, and a second model (other
weights) is run on the same suite, so that there is something to rank.
"""

import shutil
from pathlib import Path

import pytest

from tests.cli.conftest import run_cli  # noqa: F401  (the real entry point, output captured: used by test_cli.py)
from tests.fixtures.checkpoints import build_tiny_checkpoint
from tests.fixtures.run_fixtures import NOISE_PROMPTS, RUN_LIMIT


@pytest.fixture(scope="session")
def checkpoint(tiny_runs) -> Path:
    """A tiny checkpoint directory (hash text encoder): the stand-in for `nano` in render-from-prompt tests."""
    return tiny_runs.checkpoint


@pytest.fixture(scope="session")
def run_dir(tiny_runs, tmp_path_factory) -> Path:
    """A scored run (with samples.jsonl) of the tiny model on 6 quick-suite prompts."""
    from stickeval.evaluation.run import score

    out = tmp_path_factory.mktemp("report-runs") / "run-a"
    shutil.copytree(tiny_runs.stickbench.parent, out)
    score(out, log_samples=True)
    return out


@pytest.fixture(scope="session")
def other_run_dir(tmp_path_factory) -> Path:
    """A second tiny model (other weights) on the same suite and settings as `run_dir`."""
    from stickeval import zoo
    from stickeval.evaluation.run import RunSettings, evaluate

    checkpoint = build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt-b"), seed=1, metadata={"encoder": "hash"})
    out = tmp_path_factory.mktemp("report-runs") / "run-b"
    evaluate(zoo.load(str(checkpoint)), RunSettings(limit=RUN_LIMIT, noise_prompts=NOISE_PROMPTS), out, log_samples=True)
    return out


@pytest.fixture(scope="session")
def other_suite_run(tiny_runs) -> Path:
    """A run of the tiny model on a `.pt` dataset: another suite than `run_dir`'s."""
    return tiny_runs.sft_data.parent
