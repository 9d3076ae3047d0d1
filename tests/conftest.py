"""Shared test fixtures, and where the golden files live."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from stickeval.data.motion_npz import realmotion_path as real_motion_file

pytest_plugins = ["tests.fixtures.hub_fixtures", "tests.fixtures.run_fixtures"]

# What the original Stick-Gen code computes, shipped with the repository (tests/golden/README.md).
GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_V1 = GOLDEN / "stickgen_golden_v1.pt"
GOLDEN_TRAIN = GOLDEN / "stickgen_train_golden_v1.pt"
CARDS = GOLDEN / "cards"
SEED_CARD = CARDS / "stick-gen-large-sft.README.md"


def golden_file(path: Path) -> Path:
    """`path` if it exists, else a failed test naming it: golden files ship with the repository, so none may skip."""
    if not path.is_file():
        pytest.fail(
            f"golden file {path} is missing; it is part of the repository (see tests/golden/README.md): restore it from git.",
            pytrace=False,
        )
    return path


@pytest.fixture
def golden_v1() -> dict:
    """The golden file produced by the original Stick-Gen model code."""
    import torch

    return torch.load(golden_file(GOLDEN_V1), weights_only=True)


@pytest.fixture(scope="session")
def realmotion_path() -> Path:
    """The real motion-capture track (skipped where absent: it is licensed non-commercial and never copied here)."""
    path = real_motion_file()
    if not path.exists():
        pytest.skip(f"real motion file not found at {path}")
    return path


@pytest.fixture(autouse=True, scope="session")
def _classifier_cache(tmp_path_factory):
    """Fitted action classifiers go to a per-session directory, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STICKEVAL_CACHE", str(tmp_path_factory.mktemp("stickeval-cache")))
        yield


REAL_TRACK = pytest.mark.xdist_group("real_track")  # with `make test`'s --dist loadgroup: one worker


@pytest.fixture
def real_track_cache(realmotion_path, tmp_path_factory, monkeypatch) -> Iterator[Path]:
    """A judge-model cache (STICKEVAL_CACHE) that every test of this pytest run needing the real track's
    evaluator shares, across pytest-xdist workers too, held under a file lock for the test's duration:
    the first such test trains the evaluator (minutes on 2 cores), the others wait for it and read it
    from the cache instead of training it again. They are one xdist group too (`REAL_TRACK`, for
    `--dist loadgroup`); where a run still hands them to two workers (seen in whole-suite runs), the
    second waits for the lock."""
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "real-track-cache"  # the run's, not the worker's
    shared.mkdir(exist_ok=True)
    monkeypatch.setenv("STICKEVAL_CACHE", str(shared))
    with FileLock(str(shared) + ".lock"):
        yield shared
