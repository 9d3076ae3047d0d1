"""Scoring cached rollouts: the metric table drives it, and known inputs give known results.

These tests call `score_run` on arrays built from the suite itself (no model, no generation), so
every expected value follows from the metric definitions: a "model" that returns the reference
clips scores exactly what the reference row scores.
"""

import json

import numpy as np
import pytest

from stickeval.data import load_suite
from stickeval.data.prompt_noise import NOISE_KINDS, NOISE_LEVELS
from stickeval.evaluation import scoring, scoring_setup
from stickeval.evaluation.baselines import CONTEXT
from stickeval.evaluation.results import DIRECTIONS, metric_rows
from stickeval.evaluation.scoring import score_run
from stickeval.judge import Evaluator
from stickeval.judge.classifier import ActionClassifier
from stickeval.metrics import METRICS
from stickeval.metrics.retrieval import POOL_SIZE

N = 12  # clean prompts
K = 4  # noise prompts


@pytest.fixture(scope="module")
def suite():
    return load_suite("quick", limit=N)


def build(suite, *, noise: bool, other: np.ndarray | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """run.json and cached arrays of a run whose every rollout is the reference clip of its sample.

    Noisy rows copy the clean ones (the noise changed nothing); "other" rows are `other` (default:
    the references of other samples)."""
    motion, frames, n = suite.motion, suite.motion.shape[1], len(suite.motion)
    roles, rows = ["clean"] * n, [motion]
    if noise:
        roles += ["other"] * K
        rows.append(motion[(np.arange(K) + 1) % n] if other is None else other)
        for kind in NOISE_KINDS:
            for level in NOISE_LEVELS:
                roles += [f"noise:{kind}:{level}"] * K
                rows.append(motion[:K])
    stacked = np.concatenate(rows)
    m = len(roles)
    logits = np.zeros((m, frames, 46), dtype=np.float16)
    logits[np.arange(n)[:, None], np.arange(frames)[None], suite.actions] = 1.0  # the head names every action
    tf = np.full((m, frames - 1, motion.shape[-1]), np.nan, dtype=np.float32)
    tf[:n] = motion[:, 1:]  # position t "predicts" frame t + 1 exactly
    arrays = {"motion": stacked, "action_logits": logits, "teacher_forced": tf, "seconds": np.full(m, 0.01)}
    run = {
        "settings": {"suite": "quick", "seed": 0, "batch_size": 8},
        "model": {"variant": "copy-of-the-references"},
        "model_hash": "0" * 64,
        "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash, "n": n},
        "roles": roles,
        "notices": [],
        "rows_generated_now": 0,
        "device_name": "cpu",
    }
    return run, arrays


@pytest.fixture(scope="module")
def copied(suite, tmp_path_factory):
    out = tmp_path_factory.mktemp("copy")
    run, arrays = build(suite, noise=True)
    return out, score_run(out, run, suite, arrays)


def test_a_model_returning_the_reference_clips_scores_perfectly_on_the_paired_metrics(copied, suite):
    _, results = copied
    m = results["metrics"]
    for name in (
        "pose_mse",
        "root_relative_pose_mse",
        "teacher_forced_mse",
        "frozen",
        "jittery",
        "segment_length_instability",
        "ground_penetration",
    ):
        assert m[name]["mean"] == pytest.approx(0.0, abs=1e-12), name
        assert m[name]["n"] == N, name
    # Foot skating is absolute (StickBench's own clips slide a little): exactly the references' own.
    own = METRICS["foot_skating"].fn(suite.motion, suite.motion, suite.lengths)
    assert m["foot_skating"]["mean"] == pytest.approx(own.mean())
    assert m["temporal_consistency"]["mean"] == pytest.approx(1.0)
    assert m["action_head_accuracy"]["mean"] == pytest.approx(1.0)


def test_a_model_returning_the_reference_clips_scores_what_the_reference_row_scores(copied):
    _, results = copied
    m, ref = results["metrics"], results["reference"]
    assert m["frechet_distance"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert m["diversity"]["mean"] == pytest.approx(ref["diversity"]["mean"])
    assert m["action_accuracy"]["mean"] == ref["action_accuracy"]["mean"]
    assert m["action_accuracy_top3"]["mean"] == ref["action_accuracy_top3"]["mean"]
    assert ref["frechet_distance"]["mean"] > 0  # held-out references against the train references


def test_noise_that_changes_nothing_scores_robustness_1_in_every_condition(copied):
    _, results = copied
    assert results["metrics"]["robustness"]["mean"] == pytest.approx(1.0)
    assert results["metrics"]["robustness"]["n"] == K
    per_noise = results["breakdowns"]["per_noise"]
    assert set(per_noise) == set(NOISE_KINDS)
    for kind in NOISE_KINDS:
        assert set(per_noise[kind]) == {str(level) for level in NOISE_LEVELS}
        for cell in per_noise[kind].values():
            assert cell["robustness"]["mean"] == pytest.approx(1.0)
            assert cell["action_accuracy"]["n"] == K and cell["action_accuracy_top3"]["n"] == K


def test_the_table_decides_which_metrics_have_a_reference_row(copied):
    _, results = copied
    assert set(results["reference"]) == {name for name, m in METRICS.items() if m.reference}
    assert set(results["metrics"]) == set(METRICS)


def test_every_metric_entry_carries_its_description_and_unit_from_the_table(copied):
    out, results = copied
    on_disk = json.loads((out / "results.json").read_text())
    for name, entry in on_disk["metrics"].items():
        assert entry["description"] == METRICS[name].description and entry["unit"] == METRICS[name].unit


def test_the_confusion_matrix_rows_are_true_labels_and_its_trace_is_the_top1_hits(copied, suite):
    _, results = copied
    confusion = results["breakdowns"]["confusion"]
    labels, matrix = confusion["labels"], np.array(confusion["matrix"])
    assert matrix.shape == (len(labels), len(labels)) and matrix.dtype.kind == "i"
    assert matrix.sum() == N
    for i, label in enumerate(labels):
        assert matrix[i].sum() == list(suite.labels).count(label)
    assert np.trace(matrix) / N == pytest.approx(results["metrics"]["action_accuracy"]["mean"])


def test_a_model_that_ignores_its_text_has_undefined_robustness_with_the_tables_note(suite, tmp_path):
    run, arrays = build(suite, noise=True, other=suite.motion[:K])  # other prompts give the same clip
    results = score_run(tmp_path, run, suite, arrays)
    robustness = results["metrics"]["robustness"]
    assert robustness["mean"] is None and robustness["n"] == 0 and robustness["n_undefined"] == K
    assert robustness["note"] == f"undefined: {METRICS['robustness'].undefined}"


def test_a_run_without_noise_rows_reports_no_robustness(suite, tmp_path):
    run, arrays = build(suite, noise=False)
    results = score_run(tmp_path, run, suite, arrays)
    assert "robustness" not in results["metrics"] and results["breakdowns"]["per_noise"] == {}


def test_each_set_of_clips_gets_one_feature_pass_and_one_pass_of_each_classifier(suite, tmp_path, monkeypatch):
    # Counting wrappers around the real functions: the rollouts, the references (also the held-out
    # row), the train split and the 5 context rows each get their features once; top-1 and top-3
    # share one pass of the time-aware classifier, and each set one pass of the static one.
    calls = {"features": 0, "classifier": 0, "time_aware": 0}
    features, proba, classify = scoring_setup.motion_features, ActionClassifier.predict_proba, Evaluator.classify

    def counted_classify(self, *args, **kwargs):
        calls["time_aware"] += 1
        return classify(self, *args, **kwargs)

    def counted_features(*args, **kwargs):
        calls["features"] += 1
        return features(*args, **kwargs)

    def counted_proba(self, *args, **kwargs):
        calls["classifier"] += 1
        return proba(self, *args, **kwargs)

    monkeypatch.setattr(scoring_setup, "motion_features", counted_features)
    monkeypatch.setattr(ActionClassifier, "predict_proba", counted_proba)
    monkeypatch.setattr(Evaluator, "classify", counted_classify)
    run, arrays = build(suite, noise=False)
    score_run(tmp_path, run, suite, arrays)
    assert calls == {"features": 8, "classifier": 7, "time_aware": 7}


def test_metric_rows_give_every_metric_its_value_interval_direction_reference_and_meaning(copied):
    _, results = copied
    rows = metric_rows(results)
    assert [r.name for r in rows] == list(results["metrics"])
    by_name = {r.name: r for r in rows}
    pose = by_name["pose_mse"]
    assert pose.value == results["metrics"]["pose_mse"]["mean"] and pose.n == N
    assert pose.direction == DIRECTIONS[False] and pose.reference == results["baselines"]["real"]["pose_mse"]["mean"]
    assert pose.baselines == {row: values["pose_mse"]["mean"] for row, values in results["baselines"].items()}
    assert pose.description == METRICS["pose_mse"].description and pose.unit == METRICS["pose_mse"].unit
    diversity = by_name["diversity"]
    assert diversity.direction == DIRECTIONS[None]
    assert diversity.reference == results["baselines"]["real"]["diversity"]["mean"]
    older = {k: v for k, v in results.items() if k != "baselines"}  # results written before context rows
    assert {r.name: r.reference for r in metric_rows(older)}["diversity"] == results["reference"]["diversity"]["mean"]
    assert diversity.ci == tuple(results["metrics"]["diversity"]["ci95"])


def test_metric_rows_of_an_older_results_file_take_descriptions_from_the_table(copied):
    _, results = copied
    older = {**results, "metrics": {k: {f: v for f, v in m.items() if f != "description"} for k, m in results["metrics"].items()}}
    assert [r.description for r in metric_rows(older)] == [METRICS[name].description for name in results["metrics"]]


def test_context_rows_score_model_free_answers_through_the_model_rows_code(copied, suite):
    _, results = copied
    baselines = results["baselines"]
    assert list(baselines) == list(CONTEXT)
    model_only = {name for name, m in METRICS.items() if m.kind in scoring.MODEL_ONLY}
    for row in baselines.values():
        assert set(row) == set(results["metrics"]) - model_only - {
            "r_precision_top1",
            "r_precision_top2",
            "r_precision_top3",
            "matching_score",
        }
        assert all(e["n"] == N for e in row.values())
    # The first frame held still is frozen by definition and has a temporal consistency of ~0;
    # the mean pose for every prompt has no diversity at all, in features or in the evaluator's space.
    assert baselines["first_frame"]["frozen"]["mean"] == 1.0 and baselines["first_frame"]["temporal_consistency"]["mean"] < 0.01
    assert baselines["mean_pose"]["diversity"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert baselines["mean_pose"]["evaluator_diversity"]["mean"] == pytest.approx(0.0, abs=1e-6)
    held = np.repeat(suite.motion[:, :1], suite.motion.shape[1], axis=1)
    assert baselines["first_frame"]["pose_mse"]["mean"] == pytest.approx(METRICS["pose_mse"].fn(held, suite.motion, suite.lengths).mean())
    # Real motion of the right action is judged right far more often than white noise.
    assert baselines["real"]["action_accuracy"]["mean"] > baselines["white_noise"]["action_accuracy"]["mean"] + 0.4


def test_a_copy_of_the_test_references_is_flagged_as_memorised(copied):
    _, results = copied
    assert any("memorised test set" in notice for notice in results["notices"])
    assert results["evaluator"]["domain"] == "stickbench" and results["evaluator"]["held_out"]["n"] > 1000


def test_retrieval_metrics_need_a_pool_of_32_prompts_and_say_so(copied):
    _, results = copied
    entry = results["metrics"]["r_precision_top1"]
    assert entry["mean"] is None and entry["n"] == 0 and str(POOL_SIZE) in entry["note"]


def test_r_precision_of_the_references_is_the_evaluators_own_and_a_frozen_pose_is_near_chance(tmp_path):
    suite = load_suite("quick", limit=40)
    run, arrays = build(suite, noise=False)
    results = score_run(tmp_path, run, suite, arrays)
    copy, still = results["metrics"]["r_precision_top3"], results["baselines"]["mean_pose"]["r_precision_top3"]
    assert copy["n"] == 40 and copy["mean"] == results["reference"]["r_precision_top3"]["mean"] > 0.5
    assert still["mean"] == pytest.approx(3 / POOL_SIZE, abs=1e-9)  # every clip the same: ties count at random order


def test_data_without_a_learned_evaluator_gets_null_evaluator_figures_and_a_notice(suite, tmp_path):
    run, arrays = build(suite, noise=False)
    run["settings"] = {**run["settings"], "suite": str(tmp_path / "my_data.pt")}
    results = score_run(tmp_path, run, suite, arrays)
    for name, metric in METRICS.items():
        if metric.needs_evaluator:
            assert results["metrics"][name]["mean"] is None and "no learned evaluator" in results["metrics"][name]["note"], name
    # The static classifier, fitted on the data's own train split, is then the judge of action_accuracy.
    assert results["metrics"]["action_accuracy"]["mean"] == results["metrics"]["static_action_accuracy"]["mean"] is not None
    assert results["evaluator"] is None and any("no learned evaluator" in n for n in results["notices"])
    assert results["breakdowns"]["confusion"]["judge"] == "static"


def test_suite_rows_scored_while_a_gpu_generates_give_the_same_results_and_must_be_this_runs(copied, suite, tmp_path):
    # `evaluate` scores the reference and context rows in a thread during generation on a GPU and
    # hands them to score_run; the results file is the same as when score_run scores them itself.
    _, results = copied
    run, arrays = build(suite, noise=True)
    rows = scoring.score_suite(run["settings"], suite)
    ahead = score_run(tmp_path, run, suite, arrays, suite_scores=rows)
    same = ("metrics", "reference", "baselines", "breakdowns", "notices", "evaluator", "config")
    assert {k: ahead[k] for k in same} == {k: results[k] for k in same}
    assert ahead["reference"] is rows.reference  # written as handed over, not scored again
    # rows scored for another seed are refused, not mixed into this run's results
    other = scoring.score_suite({**run["settings"], "seed": 1}, suite)
    with pytest.raises(ValueError, match="another suite or seed"):
        score_run(tmp_path, run, suite, arrays, suite_scores=other)
