"""`.eval_results/` entries from a run's results.json, and their round trip through the real huggingface_hub client.

Runs on huggingface_hub 1.x and 2.x without pyarrow: the benchmark's eval.yaml is committed to the
stand-in Hub's dataset store directly (tests/data/test_publish.py covers the Parquet files), so
`python -m pytest tests/test_eval_results.py` is the whole client round trip on any machine.
"""

import json

import pytest
import yaml
from huggingface_hub import hf_hub_download

from stickeval.card import hub_eval
from stickeval.card import source as card_source
from stickeval.card.model_index import read_results
from stickeval.data.publish import HEADLINE_METRICS, eval_yaml, read_benchmark
from stickeval.data.stickbench import load_suite
from stickeval.errors import BenchmarkError, EvalResultsError
from tests.fixtures.hub_fixtures import TEST_TOKEN

BENCHMARK = "stickeval-org/stickbench"
MODEL = "GesturaAI/stick-gen-tiny"
CARD = "---\nlicense: mit\n---\n\n# tiny\n"
REVISION = "0123456789abcdef0123456789abcdef01234567"


def declaration(limit: int = 6) -> str:
    """StickBench quick's eval.yaml with the test split cut to `limit` (the tiny run's --limit)."""
    suites = {("quick", "test"): load_suite("quick", limit=limit), ("quick", "train"): load_suite("quick", split="train")}
    return eval_yaml(suites, limit)


@pytest.fixture(scope="module")
def stickbench():
    return read_benchmark(declaration(), BENCHMARK)


@pytest.fixture
def results(tiny_runs) -> dict:
    return read_results(tiny_runs.stickbench)


def rounded(value: float) -> float:
    return float(f"{value:.4g}")


def test_the_entry_holds_the_score_the_benchmark_task_revision_date_and_settings(results, stickbench):
    fields = hub_eval.entry_fields(results, stickbench, REVISION, source_url="https://example.org/runs/tiny")
    entry = hub_eval.yaml_entry(fields)
    assert entry["dataset"] == {"id": BENCHMARK, "task_id": "quick", "revision": REVISION}
    assert entry["value"] == rounded(results["metrics"]["action_accuracy"]["mean"])
    assert entry["date"] == results["date"] and entry["source"] == {"url": "https://example.org/runs/tiny"}
    notes = entry["notes"]
    assert notes.startswith(f"stickeval {results['tool']['version']}; stickbench-quick n=6; seed 0, prime reference")
    assert f"pose_mse {rounded(results['metrics']['pose_mse']['mean']):g} (lower is better)" in notes
    assert "noise_prompts 3" in notes and "limit 6" in notes


def test_the_hand_built_yaml_equals_huggingface_hubs_serializer(results, stickbench):
    with_source = hub_eval.entry_fields(results, stickbench, REVISION, source_url="https://example.org/x")
    lacking = set(with_source) - hub_eval.hub_entry_fields()
    if lacking:
        pytest.skip(f"this huggingface_hub's EvalResultEntry lacks {sorted(lacking)} (all added by 1.4+); the hand-built YAML is written")
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml

    for fields in (with_source, hub_eval.entry_fields(results, stickbench, REVISION)):
        assert hub_eval.yaml_entry_by_hand(fields) == eval_result_entries_to_yaml([EvalResultEntry(**fields)])[0]
    optional = {"verify_token": "t", "source_name": "logs", "source_user": "u", "source_org": "o"}
    full = {**with_source, **{k: v for k, v in optional.items() if k in hub_eval.hub_entry_fields()}}  # as this client has them
    assert hub_eval.yaml_entry_by_hand(full) == eval_result_entries_to_yaml([EvalResultEntry(**full)])[0]


def test_other_entries_are_kept_and_the_same_task_is_replaced(results, stickbench):
    other = [
        {"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9, "notes": "no-tools"},
        {"dataset": {"id": BENCHMARK, "task_id": "standard"}, "value": 0.5},
        {"dataset": {"id": BENCHMARK, "task_id": "quick"}, "value": 0.99},
    ]
    original = yaml.safe_dump(other, sort_keys=False)
    update = hub_eval.build_update(results, stickbench, REVISION, original)
    written = yaml.safe_load(update.updated)
    assert written[:2] == other[:2] and written[2] == update.entry and len(written) == 3
    assert not update.current and "-  value: 0.99" in update.diff()
    again = hub_eval.build_update(results, stickbench, REVISION, update.updated)
    assert again.current and again.diff() == ""


def test_a_new_file_holds_one_entry(results, stickbench):
    update = hub_eval.build_update(results, stickbench, REVISION, None)
    assert update.path == ".eval_results/stickbench.yaml" and yaml.safe_load(update.updated) == [update.entry]
    assert update.diff().startswith("--- a/.eval_results/stickbench.yaml\n+++ b/.eval_results/stickbench.yaml\n")


@pytest.mark.parametrize("text", ["{not: [closed", "dataset: x\nvalue: 1\n", "- dataset: {id: a}\n  value: 1\n", "- value: 3\n"])
def test_an_existing_file_that_is_not_a_list_of_entries_is_refused(results, stickbench, text):
    with pytest.raises(EvalResultsError, match="Fix or remove .eval_results/stickbench.yaml"):
        hub_eval.build_update(results, stickbench, REVISION, text)


def test_results_of_another_suite_hash_than_the_benchmark_revision_are_refused(results):
    whole = read_benchmark(declaration(limit=7), BENCHMARK)
    with pytest.raises(EvalResultsError, match=rf"suite hash {results['suite']['hash'][:12]} .* declares [0-9a-f]{{12}} \(n=7\)"):
        hub_eval.entry_fields(results, whole, REVISION)


def test_results_on_a_suite_the_benchmark_does_not_hold_are_refused(tiny_runs, stickbench):
    on_pt = read_results(tiny_runs.sft_data)  # a user's .pt file: never a StickBench result
    with pytest.raises(EvalResultsError, match="does not hold .*its suites: stickbench-quick"):
        hub_eval.entry_fields(on_pt, stickbench, REVISION)


def test_a_null_score_writes_no_entry(results, stickbench):
    results["metrics"]["action_accuracy"] = {**results["metrics"]["action_accuracy"], "mean": None, "note": "no classifier"}
    with pytest.raises(EvalResultsError, match=r"action_accuracy.*no value in these results \(no classifier\)"):
        hub_eval.entry_fields(results, stickbench, REVISION)


@pytest.mark.parametrize(
    "text, message",
    [
        ("name: HLE\nevaluation_framework: inspect-ai\ntasks: [{id: hle}]\n", "names evaluation_framework 'inspect-ai'"),
        ("evaluation_framework: stickeval\ntasks: []\n", "declares no stickbench-v1 suites"),
        ("evaluation_framework: [\n", "not valid YAML"),
    ],
)
def test_a_dataset_that_is_not_stickbench_is_refused(text, message):
    with pytest.raises(BenchmarkError, match=message) as caught:
        read_benchmark(text, "cais/hle")
    assert "stickeval data push stickbench cais/hle" in str(caught.value) and caught.value.repo_id == "cais/hle"


def test_the_directions_of_the_headline_metrics_are_declared(stickbench):
    assert stickbench.higher_is_better == {name: up for name, up, _ in HEADLINE_METRICS}
    assert stickbench.score_metric == "action_accuracy" and stickbench.higher_is_better["pose_mse"] is False


# ---- through the real client and the stand-in Hub


@pytest.fixture
def published(hub_env, monkeypatch):
    """The benchmark's eval.yaml in a dataset repo and a model repo with a card, on the stand-in; a write token."""
    hub_env.datasets.create_repo(BENCHMARK)
    sha = hub_env.datasets.commit(BENCHMARK, {"eval.yaml": declaration().encode()}, summary="benchmark")
    hub_env.store.create_repo(MODEL)
    hub_env.store.commit(MODEL, {"README.md": CARD.encode()}, summary="card")
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    return hub_env, sha


def test_round_trip_through_huggingface_hub_gives_the_runs_value_benchmark_and_revision(published, results):
    from huggingface_hub import parse_eval_result_entries

    hub, sha = published
    source = card_source.read_card(MODEL)
    existing = [{"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9}]
    hub.store.commit(MODEL, {".eval_results/stickbench.yaml": yaml.safe_dump(existing).encode()}, summary="other")
    source = card_source.read_card(MODEL)
    update = card_source.eval_results_update(source, results, BENCHMARK)
    assert update.revision == sha and update.original is not None
    pushed = card_source.push_card(source, None, results, extra={update.path: update.updated})
    assert hub.store.refs(MODEL)["main"] == pushed.commit_sha
    downloaded = hf_hub_download(MODEL, ".eval_results/stickbench.yaml", endpoint=hub.url)
    entries = parse_eval_result_entries(yaml.safe_load(open(downloaded, encoding="utf-8")))
    assert [(e.dataset_id, e.task_id, e.value) for e in entries] == [
        ("cais/hle", "default", 20.9),  # kept, not overwritten
        (BENCHMARK, "quick", rounded(results["metrics"]["action_accuracy"]["mean"])),
    ]
    assert entries[1].dataset_revision == sha and entries[1].date == results["date"]
    assert card_source.eval_results_update(card_source.read_card(MODEL), results, BENCHMARK).current


def test_a_dataset_without_eval_yaml_is_not_a_benchmark(published, results):
    hub, _ = published
    hub.datasets.create_repo("someone/plain-data")
    with pytest.raises(BenchmarkError, match="someone/plain-data has no eval.yaml at main, so it is not a benchmark"):
        card_source.eval_results_update(card_source.read_card(MODEL), results, "someone/plain-data")


def test_a_missing_dataset_names_the_dataset(published, results):
    from stickeval.errors import HubError

    with pytest.raises(HubError, match="The dataset nobody/nothing was not found"):
        card_source.eval_results_update(card_source.read_card(MODEL), results, "nobody/nothing")


def test_the_benchmark_revision_is_the_one_asked_for(published, results):
    hub, first = published
    hub.datasets.commit(BENCHMARK, {"eval.yaml": declaration(limit=7).encode()}, summary="a bigger test split")
    with pytest.raises(EvalResultsError, match="declares"):
        card_source.eval_results_update(card_source.read_card(MODEL), results, BENCHMARK)  # main moved on
    update = card_source.eval_results_update(card_source.read_card(MODEL), results, BENCHMARK, revision=first)
    assert update.revision == first and json.loads(json.dumps(update.entry))["dataset"]["revision"] == first
