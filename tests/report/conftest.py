"""Run directories for the report tests, made by the real pipeline on tiny random-weight checkpoints (once per session)."""

from pathlib import Path

import pytest

from fixtures.checkpoints import build_tiny_checkpoint
from stickeval import zoo
from stickeval.evaluation import RunSettings, evaluate

SETTINGS = RunSettings(limit=6, noise_prompts=3)  # 6 clean + 3 other + 18 x 3 noisy rows: a second on CPU


def _run(tmp_path_factory, name: str, seed: int, **settings) -> Path:
    checkpoint = build_tiny_checkpoint(tmp_path_factory.mktemp(f"{name}-ckpt"), seed=seed, metadata={"encoder": "hash"})
    out = tmp_path_factory.mktemp(name)
    evaluate(zoo.load(str(checkpoint)), RunSettings(**{**SETTINGS.__dict__, **settings}), out, log_samples=True)
    return out


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny checkpoint directory (hash text encoder): the stand-in for `nano` in render-from-prompt tests."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("prompt-ckpt"), metadata={"encoder": "hash"})


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A scored run (with samples.jsonl) of a tiny model on 6 quick-suite prompts."""
    return _run(tmp_path_factory, "run-a", seed=0)


@pytest.fixture(scope="session")
def other_run_dir(tmp_path_factory) -> Path:
    """A second tiny model (other weights) on the same suite: something to compare with."""
    return _run(tmp_path_factory, "run-b", seed=1)
