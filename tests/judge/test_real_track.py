"""The real track's evaluator: built on first use from the local data, cached, never shipped (slow: ~2-4 min)."""

import time

import pytest

from stickeval.evaluation.scoring_setup import cache_dir
from stickeval.judge import load_evaluator
from stickeval.judge.domains import SHIPPED_DIR
from tests.conftest import REAL_TRACK


@pytest.mark.slow
@REAL_TRACK
def test_real_evaluator_is_built_once_cached_and_meets_the_issue_targets(realmotion_path, real_track_cache, monkeypatch):
    monkeypatch.setenv("STICKEVAL_REALMOTION", str(realmotion_path))
    # the run's shared cache (tests/conftest.py): built here, or by the real track's validity test if it
    # came first; either way trained once per test run
    built = load_evaluator("real", cache_dir=cache_dir())
    held_out = built.manifest["held_out"]
    # Time-aware classifier: held-out real clips, split by source file.
    assert held_out["classifier_top1"]["mean"] >= 0.95
    assert set(held_out["asymmetric_actions"]) == {"walk", "run", "walk-turn-left", "walk-turn-right"}
    assert held_out["classifier_top1_asymmetric_reversed"]["ci95"][1] < 0.5 < held_out["classifier_top1_asymmetric"]["ci95"][0]
    assert held_out["r_precision"]["top1"]["ci95"][0] > 3 / 32
    # evaluator-v1 (without the jittered, speed-changed and lightly smoothed negatives): 0.783 [0.774, 0.792];
    # evaluator-v2 (velocity and acceleration read by the pose's own stack): 0.784 [0.775, 0.793]
    assert held_out["r_precision"]["top1"]["mean"] >= 0.784
    start = time.perf_counter()
    cached = load_evaluator("real", cache_dir=cache_dir())
    assert time.perf_counter() - start < 30  # read from the cache, not trained again
    assert cached.manifest == built.manifest
    assert not any("real" in p.name for p in SHIPPED_DIR.iterdir())  # never written into the package
