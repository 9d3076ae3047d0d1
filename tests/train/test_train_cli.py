"""`stickeval train/finetune` on bad input: one line, exit 1, nothing half-written."""

import json
import subprocess
import sys

import torch

from stickeval.data import save_dataset
from stickeval.train.state import STATE_FILE, load_state
from stickeval.zoo.checkpoint import save_checkpoint
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.train.conftest import TINY, tiny_samples

SETS = [arg for item in TINY for arg in ("--set", item)]
FILE = [*SETS, "--set", 'data.source="file"']


def test_train_cli_runs_and_prints_the_curation_table(run_cli, tmp_path, tiny_pt):
    result = run_cli("train", "--recipe", "pretrain-nano", *FILE, "--set", "schedule.epochs=1", "--data", tiny_pt, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "curation" in result.stdout and "quality" in result.stdout and "stickeval run" in result.stdout


def test_train_cli_off_a_terminal_prints_progress_lines_with_speed_and_eta(run_cli, tmp_path):
    result = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "global batch 8 in forward passes of 8" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert lines[0].startswith("step 1/28: loss ") and "samples/s" in lines[0] and "TFLOP/s" in lines[0] and "ETA " in lines[0]
    assert lines[-1].startswith("step 2/28: ")  # the last step always


def test_eval_every_logs_the_numbers_stickeval_run_gives_on_the_same_weights(run_cli, tmp_path, tiny_pt):
    out = tmp_path / "run"
    trained = run_cli(
        "train",
        "--recipe",
        "pretrain-nano",
        *SETS,
        "--max-steps",
        "2",
        "--eval-every",
        "2",
        "--eval-data",
        tiny_pt,
        "--eval-limit",
        "6",
        "-o",
        out,
    )
    assert trained.exit_code == 0, trained.stderr
    assert "step 2 eval: " in trained.stderr
    evals = [line for line in map(json.loads, (out / "train_log.jsonl").read_text().splitlines()) if "eval" in line]
    assert [line["step"] for line in evals] == [2]
    logged = evals[0]["eval"]
    assert {"action_accuracy", "pose_mse", "frechet_distance"} <= set(logged)
    scored = run_cli("run", out, "--data", tiny_pt, "--limit", "6", "--json", "-o", tmp_path / "check")
    assert scored.exit_code == 0, scored.stderr
    metrics = json.loads(scored.stdout)["metrics"]
    assert {name: metrics[name]["mean"] for name in logged} == {name: e["mean"] for name, e in logged.items()}
    assert {name: metrics[name]["ci95"] for name in logged} == {name: e["ci95"] for name, e in logged.items()}
    assert (out / "evals" / "step-2" / "results.json").is_file()
    plain = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", tmp_path / "plain")
    assert plain.exit_code == 0, plain.stderr
    assert (tmp_path / "plain" / "model.safetensors").read_bytes() == (out / "model.safetensors").read_bytes()  # evaluating changed nothing


def test_no_sample_passing_the_quality_filter_names_the_key_and_writes_nothing(run_cli, tmp_path):
    data = tmp_path / "low.pt"
    save_dataset(tiny_samples(quality=0.2), data)
    out = tmp_path / "run"
    line = run_cli("train", "--recipe", "pretrain-nano", *FILE, "--set", "curation.min_quality=0.5", "--data", data, "-o", out).error_line()
    assert "quality" in line and "curation.min_quality" in line
    assert not out.exists()


def test_init_from_another_architecture_is_refused_naming_the_difference(run_cli, tmp_path, tiny_pt):
    other = tmp_path / "other"
    save_checkpoint(StickFigureTransformer(ModelConfig(d_model=64, nhead=2, num_layers=1, embedding_dim=32)), other)
    line = run_cli("finetune", other, "--recipe", "pretrain-nano", *FILE, "--data", tiny_pt, "-o", tmp_path / "run").error_line()
    assert "d_model 64 (recipe: 32)" in line


def test_finetune_from_a_matching_checkpoint_starts_from_its_weights(run_cli, tmp_path, tiny_pt):
    base = tmp_path / "base"
    save_checkpoint(StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, embedding_dim=32)), base)
    result = run_cli(
        "finetune", base, "--recipe", "pretrain-nano", *FILE, "--max-steps", "1", "--data", tiny_pt, "-o", tmp_path / "run", "--json"
    )
    assert result.exit_code == 0, result.stderr
    assert f'init_from = "{base}"' in (tmp_path / "run" / "recipe.toml").read_text()


def test_recipe_with_unknown_key_and_wrong_type_names_both(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[optimizer]\nlearning_rate = 1e-4\n[schedule]\nepochs = "20"\n')
    line = run_cli("train", "--recipe", bad, "-o", tmp_path / "run").error_line()
    assert "optimizer.learning_rate" in line and "schedule.epochs" in line


def test_set_of_a_key_that_does_not_exist_is_refused(run_cli, tmp_path):
    line = run_cli("train", "--recipe", "pretrain-nano", "--set", "optimizer.momentum=0.9", "-o", tmp_path / "run").error_line()
    assert "optimizer.momentum" in line


def test_a_wrong_shaped_sample_is_named_by_its_index(run_cli, tmp_path):
    samples = tiny_samples(10)
    samples[7]["motion"] = samples[7]["motion"][:, :7]
    data = tmp_path / "bad.pt"
    torch.save([{k: torch.as_tensor(v) if not isinstance(v, (str, dict)) else v for k, v in s.items()} for s in samples], data)
    line = run_cli("train", "--recipe", "pretrain-nano", *FILE, "--data", data, "-o", tmp_path / "run").error_line()
    assert "sample 7" in line


def test_resume_with_another_recipe_names_the_differing_keys(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", out).exit_code == 0
    line = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--set", "optimizer.lr=0.5", "--resume", out).error_line()
    assert "optimizer.lr" in line and "another recipe" in line
    assert run_cli("train", "--resume", out).exit_code == 0  # its own recipe.toml continues it


def test_resume_from_a_directory_without_a_checkpoint_says_so(run_cli, tmp_path):
    line = run_cli("train", "--recipe", "pretrain-nano", "--resume", tmp_path).error_line()
    assert STATE_FILE in line


# A real failing write: the file-size limit makes write() fail with EFBIG ("File too large") past 64 KiB.
FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))
from stickeval.cli import main
main(sys.argv[1:])
"""


def test_a_full_disk_while_saving_fails_in_one_line_and_leaves_the_previous_checkpoint(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", out).exit_code == 0
    before = (out / STATE_FILE).read_bytes()
    args = ["train", "--resume", str(out), "--max-steps", "4"]
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "intact" in errors[0] and "Traceback" not in proc.stderr
    assert (out / STATE_FILE).read_bytes() == before and load_state(out).step == 2
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
