"""The shipped StickBench evaluator: it loads, matches its manifest, is refused when corrupt, and judges well."""

import json
import shutil

import numpy as np
import pytest

from stickeval._io import sha256_file
from stickeval.data.stickbench import load_suite
from stickeval.errors import EvaluatorError
from stickeval.judge import EVALUATOR_VERSION, domain_of, load_evaluator, load_evaluator_dir
from stickeval.judge.bundle import MANIFEST, WEIGHT_FILES
from stickeval.judge.domains import SHIPPED_DIR
from stickeval.judge.training import NEGATIVES
from stickeval.metrics.corruptions import reverse_clips
from stickeval.metrics.retrieval import r_precision_ci

BUNDLE = SHIPPED_DIR / "stickbench"


@pytest.fixture(scope="module")
def shipped():
    return load_evaluator("quick", cache_dir="/nonexistent")  # StickBench's never touches the cache


def test_shipped_weights_match_their_manifest_and_stay_small():
    manifest = json.loads((BUNDLE / MANIFEST).read_text())
    assert manifest["version"] == EVALUATOR_VERSION and manifest["domain"] == "stickbench"
    for name in WEIGHT_FILES.values():
        assert sha256_file(BUNDLE / name) == manifest["files"][name]
    assert sum(p.stat().st_size for p in BUNDLE.iterdir()) < 1_000_000


def test_quick_and_standard_share_the_shipped_evaluator_and_user_data_has_none():
    assert domain_of("quick") == domain_of("standard") == "stickbench"
    assert domain_of("real") == "real"
    with pytest.raises(EvaluatorError, match="no learned evaluator for suite 'mydata'"):
        domain_of("mydata")


@pytest.fixture
def bundle_copy(tmp_path):
    return shutil.copytree(BUNDLE, tmp_path / "bundle")


def test_a_corrupt_weight_file_is_refused_naming_the_file_and_the_fix(bundle_copy):
    path = bundle_copy / WEIGHT_FILES["evaluator"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(EvaluatorError, match=r"evaluator.safetensors does not match its manifest .*Reinstall stickeval"):
        load_evaluator_dir(bundle_copy)


def test_a_missing_weight_file_or_manifest_is_refused(bundle_copy):
    (bundle_copy / WEIGHT_FILES["classifier"]).unlink()
    with pytest.raises(EvaluatorError, match="classifier.safetensors is missing"):
        load_evaluator_dir(bundle_copy)
    (bundle_copy / MANIFEST).write_text("{not json")
    with pytest.raises(EvaluatorError, match="cannot read the evaluator manifest"):
        load_evaluator_dir(bundle_copy)


def test_a_bundle_of_another_version_is_refused(bundle_copy):
    manifest = json.loads((bundle_copy / MANIFEST).read_text())
    (bundle_copy / MANIFEST).write_text(json.dumps({**manifest, "version": "evaluator-v0"}))
    with pytest.raises(EvaluatorError, match="evaluator-v0"):
        load_evaluator_dir(bundle_copy)


def test_clips_of_another_schema_are_refused(shipped):
    with pytest.raises(EvaluatorError, match="another schema"):
        shipped.embed_motion(np.zeros((2, 20, 48)) + np.linspace(0, 1, 48))


def test_shipped_evaluator_retrieves_held_out_clips_far_above_chance_and_not_reversed_ones(shipped):
    test = load_suite("quick", split="test")
    text = shipped.embed_text(test.prompts)
    real = r_precision_ci(text, shipped.embed_motion(test.motion, test.lengths), replications=5)
    backwards = r_precision_ci(text, shipped.embed_motion(reverse_clips(test.motion, test.lengths), test.lengths), replications=5)
    assert real[1].ci95[0] > 0.5 > 1 / 32  # chance is 1/32
    assert backwards[1].ci95[1] < real[1].ci95[0]


def test_shipped_classifier_names_held_out_actions(shipped):
    test = load_suite("quick", split="test")
    accuracy = np.mean(np.array(shipped.predict(test.motion, test.lengths)) == np.array(test.labels))
    assert accuracy >= 0.9
    assert shipped.classify(test.motion[:3], test.lengths[:3]).sum(axis=1) == pytest.approx(1.0, abs=1e-5)


def test_shipped_evaluator_was_trained_against_every_negative_and_retrieves_no_worse_than_before(shipped):
    assert shipped.manifest["training"]["negatives"] == list(NEGATIVES)
    # the held-out test split's R-precision top-1 of the versions before: evaluator-v1 (reversed, shuffled
    # and 5-25-frame smoothed negatives only) 0.785 [0.771, 0.798]; evaluator-v2 (no velocity and
    # acceleration channels on StickBench) 0.788 [0.774, 0.800]
    assert shipped.manifest["held_out"]["r_precision"]["top1"]["mean"] >= 0.788


def test_manifest_reports_the_held_out_figures_with_intervals(shipped):
    held_out = shipped.manifest["held_out"]
    assert held_out["n"] > 1000
    top1 = held_out["r_precision"]["top1"]
    assert top1["ci95"][0] <= top1["mean"] <= top1["ci95"][1] and top1["n"] == held_out["n"]
    assert held_out["classifier_top1"]["mean"] > 0.9
