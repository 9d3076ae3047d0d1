"""Shared test fixtures."""

from pathlib import Path

import pytest

pytest_plugins = ["tests.fixtures.hub_fixtures", "tests.fixtures.run_fixtures"]

SHARED = Path(__file__).resolve().parents[2] / "shared"
GOLDEN_V1 = SHARED / "reference" / "golden" / "stickgen_golden_v1.pt"
REALMOTION = SHARED / "realmotion" / "bandai_namco_stick.npz"


@pytest.fixture
def golden_v1() -> dict:
    """The golden file produced by the original Stick-Gen code (skipped where absent)."""
    import torch

    if not GOLDEN_V1.exists():
        pytest.skip(f"golden file not found at {GOLDEN_V1}")
    return torch.load(GOLDEN_V1, weights_only=True)


@pytest.fixture(scope="session")
def realmotion_path() -> Path:
    """The real motion-capture track (skipped where absent; never copied into the project)."""
    if not REALMOTION.exists():
        pytest.skip(f"real motion file not found at {REALMOTION}")
    return REALMOTION


@pytest.fixture(autouse=True, scope="session")
def _classifier_cache(tmp_path_factory):
    """Fitted action classifiers go to a per-session directory, never the user's ~/.cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STICKEVAL_CACHE", str(tmp_path_factory.mktemp("stickeval-cache")))
        yield
