"""`stickeval card` through the real entry point: diff, --write, --check, --push against the local Hub stand-in, bad input."""

import json
import os
import shutil
import stat

import pytest
import yaml
from huggingface_hub import ModelCard

from tests.conftest import SEED_CARD, golden_file
from tests.fixtures.hub_fixtures import TEST_TOKEN

SFT_FLAGS = ("--dataset-name", "Curated SFT Dataset", "--dataset-type", "motion-capture")
REPO = "GesturaAI/stick-gen-large-sft"


@pytest.fixture
def card(tmp_path):
    path = tmp_path / "README.md"
    shutil.copyfile(golden_file(SEED_CARD), path)
    return path


def values(text: str) -> dict:
    """{(dataset name, metric type): value} as huggingface_hub's ModelCard parses the card."""
    return {(r.dataset_name, r.metric_type): r.metric_value for r in ModelCard(text).data.eval_results}


def test_default_prints_the_diff_and_leaves_the_card_alone(run_cli, card, tiny_runs):
    before = card.read_bytes()
    result = run_cli("card", card, "--results", tiny_runs.sft_data, *SFT_FLAGS)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("--- a/README.md\n+++ b/README.md\n")
    assert "-      value: TBD" in result.stdout and "+    - type: robustness" in result.stdout
    assert "mse on Curated SFT Dataset (motion-capture): TBD -> " in result.stderr
    assert card.read_bytes() == before


def test_check_is_green_right_after_write_and_red_after_editing_one_value(run_cli, card, tiny_runs):
    args = ("card", card, "--results", tiny_runs.sft_data, *SFT_FLAGS)
    assert run_cli(*args, "--check").exit_code == 1
    written = run_cli(*args, "--write")
    assert written.exit_code == 0 and written.stdout == "" and "Wrote" in written.stderr
    assert not list(card.parent.glob(".README.md.*"))  # no temporary file left by the atomic write
    green = run_cli(*args, "--check")
    assert green.exit_code == 0 and green.stdout == "" and "is current" in green.stderr
    text = card.read_text()
    mse = values(text)[("Curated SFT Dataset", "mse")]
    card.write_text(text.replace(f"value: {mse}", "value: 99.5", 1))
    red = run_cli(*args, "--check")
    assert red.exit_code == 1
    assert "-      value: 99.5" in red.stdout and f"+      value: {mse}" in red.stdout
    assert "mse on Curated SFT Dataset (motion-capture): 99.5 -> " in red.stderr and "stale" in red.stderr


def test_results_of_a_limit_run_are_refused_naming_the_subset_and_allow_subset(run_cli, card, tiny_runs):
    before = card.read_text()
    line = run_cli("card", card, "--results", tiny_runs.stickbench, "--write").error_line()
    assert line == (
        "These results are on the first 6 of 127 prompts of stickbench-quick (a --limit run), not the whole suite, and a "
        "card's numbers stand for the whole of stickbench-quick. Run without --limit, or pass --allow-subset to write them "
        "under the dataset name 'stickbench-quick (first 6 of 127 prompts)'."
    )
    assert card.read_text() == before


def test_check_with_stickbench_subset_results_allowed_is_red_and_names_the_missing_values(run_cli, card, tiny_runs):
    result = run_cli("card", card, "--results", tiny_runs.stickbench, "--allow-subset", "--check")
    assert result.exit_code == 1
    for metric in ("mse", "temporal_consistency", "accuracy", "robustness"):
        assert f"{metric} on stickbench-quick (first 6 of 127 prompts) (stickbench-v1): missing -> " in result.stderr
    assert "--dataset-name" in result.stderr  # says why the card's own block was left alone


def test_json_reports_changes_and_the_written_file(run_cli, card, tiny_runs):
    result = run_cli("card", card, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--write", "--json")
    doc = json.loads(result.stdout)
    assert doc["current"] is False and doc["written"] == str(card) and doc["push"] is None
    assert {c["metric"] for c in doc["changes"]} == {"mse", "temporal_consistency", "accuracy", "robustness"}
    assert doc["dataset"] == {"name": "Curated SFT Dataset", "type": "motion-capture"}


@pytest.mark.parametrize(
    ("flags", "message"),
    [(("--write", "--check"), "--write and --check exclude each other"), (("--create-pr",), "add --push")],
)
def test_conflicting_flags_are_usage_errors(run_cli, card, tiny_runs, flags, message):
    result = run_cli("card", card, "--results", tiny_runs.sft_data, *flags)
    assert result.exit_code == 2 and message in result.stderr


def test_a_read_only_card_is_refused_and_left_unchanged(run_cli, card, tiny_runs):
    before = card.read_bytes()
    os.chmod(card, stat.S_IRUSR | stat.S_IRGRP)
    try:
        message = run_cli("card", card, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--write").error_line()
    finally:
        os.chmod(card, stat.S_IRUSR | stat.S_IWUSR)
    assert "is read-only" in message and "chmod u+w" in message
    assert card.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [("# no front matter\n", "no YAML front matter"), ("---\nmodel-index: [\n---\n", "cannot be parsed")],
)
def test_a_bad_card_is_one_error_line(run_cli, tmp_path, tiny_runs, text, message):
    path = tmp_path / "README.md"
    path.write_text(text)
    assert message in run_cli("card", path, "--results", tiny_runs.sft_data).error_line()


def test_results_of_an_older_schema_are_one_error_line(run_cli, card, tiny_runs, tmp_path):
    old = json.loads(tiny_runs.sft_data.read_text())
    old["schema_version"] = 0
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert "schema_version 0" in run_cli("card", card, "--results", tmp_path / "old.json").error_line()


@pytest.fixture
def hub_card(hub_env, card, monkeypatch):
    """The seed card published as README.md of REPO on the stand-in Hub, with a write token set."""
    hub_env.store.create_repo(REPO)
    hub_env.store.commit(REPO, {"README.md": card.read_bytes()}, summary="card")
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    return hub_env


def hub_readme(hub, ref: str = "main") -> str:
    commit = hub.store.get_commit(REPO, hub.store.refs(REPO)[ref])
    return hub.store.read(REPO, commit.files["README.md"]).decode()


def test_push_commits_the_updated_card_to_the_repo(run_cli, hub_card, tiny_runs):
    result = run_cli("card", REPO, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--push")
    assert result.exit_code == 0, result.stderr
    readme = hub_readme(hub_card)
    sft = json.loads(tiny_runs.sft_data.read_text())
    assert values(readme)[("Curated SFT Dataset", "mse")] == float(f"{sft['metrics']['pose_mse']['mean']:.4g}")
    assert result.stdout.strip().endswith(f"/commit/{hub_card.store.refs(REPO)['main']}")
    assert run_cli("card", REPO, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--check").exit_code == 0


def test_push_with_create_pr_opens_a_pull_request_and_leaves_main(run_cli, hub_card, card, tiny_runs):
    result = run_cli("card", REPO, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--push", "--create-pr", "--json")
    doc = json.loads(result.stdout)
    assert doc["push"]["pr_url"].endswith(f"/{REPO}/discussions/1")
    assert hub_readme(hub_card) == card.read_text()  # main untouched
    assert values(hub_readme(hub_card, "refs/pr/1"))[("Curated SFT Dataset", "robustness")] != "TBD"


def test_push_without_a_token_says_how_to_set_one(run_cli, hub_card, tiny_runs, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    message = run_cli("card", REPO, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--push").error_line()
    assert "needs a Hub token" in message and "HF_TOKEN" in message


def test_write_is_refused_for_a_hub_card(run_cli, hub_card, tiny_runs):
    result = run_cli("card", REPO, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--write")
    assert result.exit_code == 2 and "--push" in result.stderr


def test_a_local_card_of_a_local_model_cannot_be_pushed(run_cli, card, tiny_runs):
    message = run_cli("card", card, "--results", tiny_runs.sft_data, *SFT_FLAGS, "--push").error_line()
    assert "nowhere to go" in message and yaml.safe_load(card.read_text().split("---")[1])  # card untouched, still YAML
