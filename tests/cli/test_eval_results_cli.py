"""`stickeval data push stickbench` and `stickeval card --eval-results` end to end against the local Hub stand-in.

The run is the tiny-run fixture's (a tiny random checkpoint on StickBench quick, --limit 6), so the
benchmark is pushed with `--limit 6`: its test split is then the run's suite, hash for hash. The card's
own model-index takes such a subset only with `--allow-subset` (under a name that says so).
"""

import json

import pytest
import yaml
from huggingface_hub import hf_hub_download, parse_eval_result_entries

from tests.card.test_hub_eval import declaration
from tests.fixtures.hub_fixtures import TEST_TOKEN

DATASET = "stickeval-org/stickbench"
MODEL = "GesturaAI/stick-gen-tiny"
CARD = "---\nlicense: mit\n---\n\n# tiny\n"
FILE = ".eval_results/stickbench.yaml"


@pytest.fixture
def hub(hub_env, monkeypatch):
    """A model repo with a card on the stand-in, and a write token."""
    hub_env.store.create_repo(MODEL)
    hub_env.store.commit(MODEL, {"README.md": CARD.encode()}, summary="card")
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    return hub_env


def declare(hub, text: str, repo_id: str = DATASET) -> str:
    hub.datasets.create_repo(repo_id)
    return hub.datasets.commit(repo_id, {"eval.yaml": text.encode()}, summary="eval.yaml")


def hub_file(hub, path: str, ref: str = "main") -> str:
    commit = hub.store.get_commit(MODEL, hub.store.refs(MODEL)[ref])
    return hub.store.read(MODEL, commit.files[path]).decode()


def test_push_stickbench_then_the_runs_result_and_read_both_back(run_cli, hub, tiny_runs):
    pytest.importorskip("pyarrow", reason="pyarrow (stickeval[publish]) is not installed")
    pushed = run_cli("data", "push", "stickbench", DATASET, "--size", "quick", "--limit", "6", "--json")
    assert pushed.exit_code == 0, pushed.stderr
    doc = json.loads(pushed.stdout)
    revision = hub.datasets.refs(DATASET)["main"]
    assert doc["commit_sha"] == revision and "eval.yaml" in doc["files"]
    eval_yaml = hf_hub_download(DATASET, "eval.yaml", repo_type="dataset", revision=revision, endpoint=hub.url)
    assert yaml.safe_load(open(eval_yaml))["evaluation_framework"] == "stickeval"

    result = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--push")
    assert result.exit_code == 0, result.stderr
    assert f"Pushed {FILE} ({DATASET}, task quick" in result.stderr
    assert result.stdout.strip().endswith(f"/commit/{hub.store.refs(MODEL)['main']}")
    downloaded = hf_hub_download(MODEL, FILE, endpoint=hub.url)
    (entry,) = parse_eval_result_entries(yaml.safe_load(open(downloaded)))
    run = json.loads(tiny_runs.stickbench.read_text())
    assert (entry.dataset_id, entry.task_id, entry.dataset_revision) == (DATASET, "quick", revision)
    assert entry.value == float(f"{run['metrics']['action_accuracy']['mean']:.4g}") and entry.date == run["date"]
    assert f"stickeval {run['tool']['version']}" in entry.notes

    check = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--check")
    assert check.exit_code == 0 and f"{FILE} (" in check.stderr and "is current" in check.stderr


def test_push_with_create_pr_leaves_main_without_the_file(run_cli, hub, tiny_runs):
    declare(hub, declaration())
    result = run_cli(
        "card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--push", "--create-pr", "--json"
    )
    doc = json.loads(result.stdout)
    assert doc["push"]["pr_url"].endswith(f"/{MODEL}/discussions/1") and doc["eval_results"]["path"] == FILE
    assert FILE not in hub.store.get_commit(MODEL, hub.store.refs(MODEL)["main"]).files
    assert yaml.safe_load(hub_file(hub, FILE, "refs/pr/1")) == [doc["eval_results"]["entry"]]


def test_check_is_red_when_the_repos_file_holds_another_value(run_cli, hub, tiny_runs):
    revision = declare(hub, declaration())
    stale = [{"dataset": {"id": DATASET, "task_id": "quick", "revision": revision}, "value": 0.75}]
    hub.store.commit(MODEL, {FILE: yaml.safe_dump(stale).encode()}, summary="old result")
    result = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--check")
    assert result.exit_code == 1
    assert "-  value: 0.75" in result.stdout and "is stale" in result.stderr


def test_write_puts_the_file_beside_a_local_card_and_keeps_other_entries(run_cli, hub, tiny_runs, tmp_path):
    declare(hub, declaration())
    card = tmp_path / "README.md"
    card.write_text(CARD)
    other = [{"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9, "notes": "no-tools"}]
    (tmp_path / ".eval_results").mkdir()
    (tmp_path / FILE).write_text(yaml.safe_dump(other))
    args = ("card", card, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET)
    assert run_cli(*args, "--check").exit_code == 1
    written = run_cli(*args, "--write")
    assert written.exit_code == 0 and f"Wrote {tmp_path / FILE}" in written.stderr
    entries = yaml.safe_load((tmp_path / FILE).read_text())
    assert entries[0] == other[0] and entries[1]["dataset"]["id"] == DATASET  # kept, not overwritten
    assert run_cli(*args, "--check").exit_code == 0


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "name: HLE\nevaluation_framework: inspect-ai\ntasks:\n- id: hle\n",
            "is not a StickBench dataset: its eval.yaml names evaluation_framework 'inspect-ai'",
        ),
        (7, "with suite hash {run_hash} (n=6)"),
    ],  # 7: StickBench with a test split of 7, another suite hash
)
def test_a_benchmark_that_is_not_the_runs_is_one_error_line_and_nothing_is_pushed(run_cli, hub, tiny_runs, text, message):
    declare(hub, declaration(limit=text) if isinstance(text, int) else text)
    before = hub.store.refs(MODEL)["main"]
    line = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--push").error_line()
    run_hash = json.loads(tiny_runs.stickbench.read_text())["suite"]["hash"][:12]
    assert message.format(run_hash=run_hash) in line and hub.store.refs(MODEL)["main"] == before


def test_a_dataset_without_eval_yaml_is_one_error_line(run_cli, hub, tiny_runs):
    hub.datasets.create_repo("someone/plain-data")
    line = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", "someone/plain-data").error_line()
    assert "has no eval.yaml at main, so it is not a benchmark" in line and "stickeval data push stickbench someone/plain-data" in line


def test_an_existing_file_that_is_not_entries_is_one_error_line_and_kept(run_cli, hub, tiny_runs):
    declare(hub, declaration())
    hub.store.commit(MODEL, {FILE: b"results: were here\n"}, summary="odd file")
    line = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--push").error_line()
    assert "is not a list of eval results" in line and hub_file(hub, FILE) == "results: were here\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (("--source-url", "https://example.org"), "--source-url goes with --eval-results"),
        (("--benchmark-revision", "main"), "--benchmark-revision goes with --eval-results"),
    ],
)
def test_eval_results_flags_without_eval_results_are_usage_errors(run_cli, tiny_runs, tmp_path, args, message):
    card = tmp_path / "README.md"
    card.write_text(CARD)
    result = run_cli("card", card, "--results", tiny_runs.stickbench, "--allow-subset", *args)
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (("stickbench", "no-slash"), "is not a repo id"),
        (("stickbench", DATASET, "--size", "huge"), "'huge' is not one of"),
        (("real", DATASET), "'real' is not one of"),
    ],
)
def test_bad_data_push_arguments_are_usage_errors(run_cli, args, message):
    result = run_cli("data", "push", *args)
    assert result.exit_code == 2 and message in result.stderr


def test_data_push_without_a_token_says_how_to_set_one(run_cli, hub_env):
    line = run_cli("data", "push", "stickbench", DATASET, "--size", "quick").error_line()
    assert "needs a Hub token" in line and not hub_env.datasets.exists(DATASET)


def test_check_without_eval_results_compares_the_files_the_repo_already_holds(run_cli, hub, tiny_runs):
    revision = declare(hub, declaration())
    assert run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--eval-results", DATASET, "--push").exit_code == 0
    assert run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--push").exit_code == 0  # the card's own values
    current = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--check", "--json")
    assert current.exit_code == 0, current.stderr
    (recorded,) = json.loads(current.stdout)["recorded_eval_results"]
    assert (recorded["path"], recorded["current"]) == (FILE, True)

    other = {"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9}  # not ours: never fetched
    stale = [other, {"dataset": {"id": DATASET, "task_id": "quick", "revision": revision}, "value": 0.75}]
    hub.store.commit(MODEL, {FILE: yaml.safe_dump(stale).encode()}, summary="old result")
    red = run_cli("card", MODEL, "--results", tiny_runs.stickbench, "--allow-subset", "--check")
    assert red.exit_code == 1 and "-  value: 0.75" in red.stdout
    assert f"is stale: update it with --eval-results {DATASET} and --write or --push" in red.stderr


def test_check_without_eval_results_leaves_other_benchmarks_alone(run_cli, hub, tiny_runs, tmp_path):
    card = tmp_path / "README.md"
    card.write_text(CARD)
    assert run_cli("card", card, "--results", tiny_runs.stickbench, "--allow-subset", "--write").exit_code == 0
    (tmp_path / ".eval_results").mkdir()
    (tmp_path / ".eval_results" / "hle.yaml").write_text(
        yaml.safe_dump([{"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9}])
    )
    result = run_cli("card", card, "--results", tiny_runs.stickbench, "--allow-subset", "--check", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["recorded_eval_results"] == []
