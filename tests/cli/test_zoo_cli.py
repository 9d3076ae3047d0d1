"""`stickeval zoo`, `pull` and `push`, run through the real entry point against the local Hub stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.checkpoints import zoo_toml
from tests.fixtures.hub_fixtures import TEST_TOKEN

# ---- zoo


def test_zoo_json_lists_every_variant_with_cache_state(run_cli, tiny_zoo):
    result = run_cli("zoo", "--zoo", tiny_zoo.zoo, "--json")
    assert result.exit_code == 0
    docs = {doc["name"]: doc for doc in json.loads(result.stdout)}
    assert {"small", "large-sft", "medium-lora", "nano", "tiny", "tiny-lora"} <= set(docs)
    assert docs["large"]["n_params"] == 44_619_646 and docs["large"]["repo_id"] == "GesturaAI/stick-gen-large"
    assert docs["tiny"]["cached"] is None and docs["tiny"]["card_metrics"] == {}


def test_zoo_table_and_show_give_the_cached_revision_and_card_metrics_after_a_pull(run_cli, tiny_zoo):
    assert run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo).exit_code == 0
    table = run_cli("zoo", "--zoo", tiny_zoo.zoo)
    assert table.exit_code == 0
    row = next(line for line in table.stdout.splitlines() if line.startswith("tiny "))
    assert f"main@{tiny_zoo.commits['main'][:8]}" in row and "0.10M" in row
    shown = run_cli("zoo", "show", "tiny", "--zoo", tiny_zoo.zoo)
    assert shown.exit_code == 0
    assert f"main@{tiny_zoo.commits['main'][:8]}" in shown.stdout
    assert "mse=0.0123" in shown.stdout


def test_zoo_show_json_gives_one_variant(run_cli):
    result = run_cli("zoo", "show", "large-lora", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["name"], doc["base"], doc["lora_rank"], doc["lora_alpha"]) == ("large-lora", "large", 8, 16.0)


def test_zoo_show_an_unknown_name_exits_1_with_did_you_mean(run_cli):
    line = run_cli("zoo", "show", "larg-sft").error_line()
    assert line.startswith("Unknown variant 'larg-sft'. Did you mean large-sft")


def test_zoo_with_a_bad_zoo_file_exits_1_listing_its_problems(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[x]\nrepo = "me/x"\n')
    line = run_cli("zoo", "--zoo", bad).error_line()
    assert line == f"{bad} has 1 problem: x: unknown key 'repo'. Did you mean repo_id, recipe? See docs/zoo.md for the keys."


# ---- pull


def test_pull_prints_the_local_path_and_json_gives_the_commit(run_cli, tiny_zoo):
    result = run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo)
    assert result.exit_code == 0
    path = result.stdout.strip()
    assert path.endswith(f"snapshots/{tiny_zoo.commits['main']}")
    assert f"tiny: commit {tiny_zoo.commits['main'][:12]}, {tiny_zoo.n_params:,} parameters" in result.stderr
    doc = json.loads(run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo, "--revision", "v1", "--json").stdout)
    assert (doc["commit_sha"], doc["revision"], doc["n_params"]) == (tiny_zoo.commits["v1"], "v1", tiny_zoo.n_params)


def test_pull_offline_with_cold_cache_exits_1_and_names_pull(run_cli, tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    line = run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo).error_line()
    assert line == "tiny is not in the cache and HF_HUB_OFFLINE=1 is set. Run `stickeval pull tiny` on a machine with network."
    assert tiny_zoo.hub.requests == []


@pytest.mark.usefixtures("instant_client_retries")
def test_pull_with_the_hub_down_exits_1_with_one_line(run_cli, tiny_zoo):
    tiny_zoo.hub.stop()
    line = run_cli("pull", "tiny", "--zoo", tiny_zoo.zoo).error_line()
    assert line.startswith(f"Could not reach the Hub at {tiny_zoo.hub.url}")


def test_pull_strict_exits_1_on_a_parameter_count_mismatch(run_cli, tiny_zoo, tmp_path):
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(f'[tiny-big]\nrepo_id = "{tiny_zoo.repo_id}"\nn_params = 1000\n')
    assert run_cli("pull", "tiny-big", "--zoo", wrong).exit_code == 0  # a warning only
    line = run_cli("pull", "tiny-big", "--zoo", wrong, "--strict").error_line()
    assert line.startswith(f"tiny-big has {tiny_zoo.n_params:,} parameters but the zoo expects 1,000.")


def test_pull_nano_says_its_weights_are_not_built_yet(run_cli, tmp_path):
    # an installation without the shipped weights: the built-in variant pointed at an empty directory
    (tmp_path / "empty").mkdir()
    (tmp_path / "zoo.toml").write_text(zoo_toml({"nano": {"path": str(tmp_path / "empty")}}))
    assert run_cli("pull", "nano", "--zoo", tmp_path / "zoo.toml").error_line().startswith("nano weights are not built yet")


# ---- push


def test_push_prints_the_commit_url_and_the_pushed_weights_pull_back_identically(run_cli, tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    result = run_cli("push", tiny_zoo.checkpoints["v1"], "me/pushed", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["commit_url"] == f"{tiny_zoo.hub.url}/me/pushed/commit/{doc['commit_sha']}"
    path = Path(run_cli("pull", "me/pushed").stdout.strip())
    assert (path / "model.safetensors").read_bytes() == (tiny_zoo.checkpoints["v1"] / "model.safetensors").read_bytes()


def test_push_create_pr_prints_the_pull_request_url(run_cli, tiny_zoo, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", TEST_TOKEN)
    result = run_cli("push", tiny_zoo.checkpoints["v1"], tiny_zoo.repo_id, "--create-pr")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"{tiny_zoo.hub.url}/{tiny_zoo.repo_id}/discussions/1"


def test_push_without_a_token_exits_1_naming_hf_token(run_cli, tiny_zoo):
    line = run_cli("push", tiny_zoo.checkpoints["main"], "me/pushed").error_line()
    assert "set HF_TOKEN or run `hf auth login`" in line


def test_the_zoo_table_fits_80_columns_in_a_pipe_without_cut_headers():
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "stickeval", "zoo"], capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "80"}
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), done.stdout
    assert "…" not in done.stdout
    assert lines[1].split() == ["name", "params", "cached", "schema", "encoder", "card", "metrics"]
    assert "Not shown at 80 columns: repo" in done.stdout  # and it says what it left out
    assert any(line.startswith("medium-lora ") for line in lines)
