"""`stickeval data make|inspect`, run through the real entry point."""

import json

import numpy as np
import torch

from stickeval.data import load_dataset, suite_from_dataset
from stickeval.data.stickbench import load_suite
from stickeval.text import HashEncoder


def test_data_make_writes_a_stickbench_split_with_hash_embeddings(run_cli, tmp_path):
    out = tmp_path / "sb.pt"
    result = run_cli("data", "make", "stickbench", "--size", "quick", "--split", "test", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    suite = load_suite("quick", split="test")
    assert summary["n_samples"] == len(suite) and summary["hash"] == suite.hash and summary["embedding_dim"] == 1024
    back = suite_from_dataset(out)
    np.testing.assert_array_equal(back.motion, suite.motion)
    assert back.prompts == suite.prompts
    np.testing.assert_array_equal(back.embeddings, HashEncoder(1024).encode(suite.prompts))
    sample = load_dataset(out)[0]
    assert set(sample) == {"description", "motion", "actions", "physics", "camera", "embedding", "source", "meta"}
    assert sample["source"] == "stickbench-v1" and sample["meta"]["id"] == suite.ids[0]


def test_data_make_with_a_missing_encoder_exits_1_naming_the_fix(run_cli, tmp_path):
    result = run_cli("data", "make", "stickbench", "--encoder", "nope", "-o", tmp_path / "x.pt")
    assert result.exit_code == 1
    assert "Unknown text encoder 'nope'" in result.stderr
    assert not (tmp_path / "x.pt").exists()


def test_data_inspect_reports_counts_and_every_bad_sample(run_cli, tmp_path):
    good = {"description": "a person waves", "motion": torch.zeros(40, 20), "actions": torch.full((40,), 5)}
    bad = {"description": "broken", "motion": torch.full((40, 20), float("nan")), "actions": torch.zeros(40, dtype=torch.int64)}
    torch.save([good, bad, good], tmp_path / "d.pt")
    result = run_cli("data", "inspect", tmp_path / "d.pt", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert (info["n_samples"], info["n_good"], info["actions"]) == (3, 2, {"wave": 2})
    assert info["problems"] == ["sample 1: 'motion' has NaN/inf or is not floating point"]
    table = run_cli("data", "inspect", tmp_path / "d.pt")
    assert "2 of 3 samples usable" in table.stdout and "sample 1:" in table.stdout


def test_data_inspect_of_a_missing_file_exits_1(run_cli, tmp_path):
    result = run_cli("data", "inspect", tmp_path / "none.pt")
    assert result.exit_code == 1 and "not found" in result.stderr


def test_data_make_for_a_variant_embeds_with_its_encoder_at_its_size_so_the_model_runs_on_it(run_cli, tmp_path):
    out = tmp_path / "sb_nano.pt"
    result = run_cli("data", "make", "stickbench", "--split", "test", "--for", "nano", "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith("with 256-dim hash embeddings (for models whose embedding_dim is 256).")
    assert load_dataset(out)[0]["embedding"].shape == (256,)
    ran = run_cli("run", "nano", "--data", out, "--limit", "2", "--no-noise", "-o", tmp_path / "run")
    assert ran.exit_code == 0, ran.stderr


def test_data_make_embedding_dim_sets_the_hash_size_and_bge_large_keeps_its_own(run_cli, tmp_path):
    result = run_cli("data", "make", "stickbench", "--embedding-dim", "64", "-o", tmp_path / "sb64.pt", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["embedding_dim"] == 64 and load_dataset(tmp_path / "sb64.pt")[0]["embedding"].shape == (64,)
    line = run_cli("data", "make", "stickbench", "--encoder", "bge-large", "--embedding-dim", "64", "-o", tmp_path / "bge.pt").error_line()
    assert line == "bge-large gives 1024-dim embeddings, not 64; use --encoder hash for other sizes."


def test_data_make_for_an_unknown_variant_names_the_close_ones_and_writes_nothing(run_cli, tmp_path):
    line = run_cli("data", "make", "stickbench", "--for", "nanoo", "-o", tmp_path / "x.pt").error_line()
    assert line.startswith("Unknown variant 'nanoo'. Did you mean nano")
    assert list(tmp_path.iterdir()) == []


def test_data_make_creates_the_missing_directories_of_its_output(run_cli, tmp_path):
    out = tmp_path / "new" / "sub" / "sb.pt"
    assert run_cli("data", "make", "stickbench", "--embedding-dim", "8", "-o", out).exit_code == 0
    assert out.is_file()
