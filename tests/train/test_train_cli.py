"""`stickeval train/finetune` on bad input, an occupied -o, divergence and Ctrl-C: one line, the right exit code."""

import json
import re
import signal
import subprocess
import sys

import torch

from stickeval.data import save_dataset
from stickeval.train.state import STATE_FILE, load_state
from stickeval.zoo.checkpoint import non_finite_keys, save_checkpoint
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.train.conftest import TINY, tiny_samples

SETS = [arg for item in TINY for arg in ("--set", item)]
FILE = [*SETS, "--set", 'data.source="file"']


def test_train_cli_runs_and_prints_the_curation_table(run_cli, tmp_path, tiny_pt):
    result = run_cli("train", "--recipe", "pretrain-nano", *FILE, "--set", "schedule.epochs=1", "--data", tiny_pt, "-o", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "curation" in result.stdout and "quality" in result.stdout and "stickeval run" in result.stdout


def test_train_cli_off_a_terminal_prints_progress_lines_with_speed_and_eta_to_the_step_it_stops_at(run_cli, tmp_path):
    result = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert "global batch 8 in forward passes of 8 on " in result.stderr
    assert "; stopping at step 2 of 28 (--max-steps)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("step ")]
    assert lines[0].startswith("step 1/2: loss ") and "samples/s" in lines[0] and "TFLOP/s" in lines[0] and "ETA " in lines[0]
    assert lines[-1].startswith("step 2/2: ") and lines[-1].endswith("ETA 0:00:00")  # the last step always


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
    assert {"action_accuracy", "temporal_consistency", "frechet_distance"} <= set(logged)  # the headline metrics
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


def test_train_into_another_run_is_refused_before_the_data_is_read_and_force_replaces_it(run_cli, tmp_path):
    out = tmp_path / "run"
    assert run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "2", "-o", out).exit_code == 0
    (out / "evals" / "step-2").mkdir(parents=True)  # as --eval-every leaves them
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    missing = tmp_path / "missing.pt"  # never read: the directory is refused first
    line = run_cli("train", "--recipe", "pretrain-nano", *FILE, "--data", missing, "--set", "optimizer.lr=0.01", "-o", out).error_line()
    assert line == (
        f"{out} already holds a training run of pretrain-nano (continue it with `stickeval train --resume {out}`); "
        "pass another -o/--out, or --force to replace it."
    )
    assert "already holds a training run" in run_cli("finetune", out, "--recipe", "pretrain-nano", *SETS, "-o", out).error_line()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    replaced = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--set", "optimizer.lr=0.01", "--max-steps", "1", "-o", out, "--force")
    assert replaced.exit_code == 0, replaced.stderr
    assert load_state(out).step == 1 and load_state(out).recipe["optimizer"]["lr"] == 0.01
    assert not (out / "evals").exists() and len((out / "train_log.jsonl").read_text().splitlines()) == 1


def test_train_into_a_directory_of_other_files_is_refused_and_force_writes_beside_them(run_cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    line = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "1", "-o", tmp_path).error_line()
    assert line == (
        f"{tmp_path} is not empty (notes.txt) and holds no training run; "
        "pass a new or empty directory to -o/--out, or --force to write into it."
    )
    assert run_cli("train", "--recipe", "pretrain-nano", *SETS, "--max-steps", "1", "-o", tmp_path, "--force").exit_code == 0
    assert (tmp_path / "notes.txt").read_text() == "mine" and load_state(tmp_path).step == 1


def test_a_diverging_loss_stops_training_with_exit_1_and_writes_no_weights(run_cli, tmp_path):
    out = tmp_path / "run"
    line = run_cli("train", "--recipe", "pretrain-nano", *SETS, "--set", "optimizer.lr=1e30", "-o", out).error_line()
    assert re.fullmatch(
        rf"Training diverged by step \d+: loss (nan|inf), gradient norm \S+\. Nothing was saved from it: "
        rf"{re.escape(str(out))} has no checkpoint yet \(run.save_every = 200\)\. Lower optimizer.lr \(now 1e\+30\) "
        r"or optimizer.max_grad_norm, then train again with another -o or --force\.",
        line,
    ), line
    assert not (out / STATE_FILE).exists() and not (out / "model.safetensors").exists()
    again = run_cli("train", "--recipe", "pretrain-nano", *SETS, "-o", out).error_line()
    assert (
        again
        == f"{out} already holds a training run of pretrain-nano that saved no checkpoint; pass another -o/--out, or --force to replace it."
    )


def test_divergence_after_a_checkpoint_keeps_that_checkpoint_as_the_last_good_one(run_cli, tmp_path):
    out = tmp_path / "run"
    line = run_cli(
        "train", "--recipe", "pretrain-nano", *SETS, "--set", "optimizer.lr=1e30", "--set", "run.save_every=1", "-o", out
    ).error_line()
    state = load_state(out)
    assert f"Training diverged by step {state.step + 1}: " in line and f"{out / STATE_FILE} still holds step {state.step}." in line
    assert state.step >= 1 and not non_finite_keys(state.model)


def test_non_finite_weights_are_caught_before_a_save_between_logged_steps(run_cli, tmp_path):
    out = tmp_path / "run"
    sets = ("--set", "optimizer.lr=1e30", "--set", "run.log_every=50", "--set", "run.save_every=5")
    line = run_cli("train", "--recipe", "pretrain-nano", *SETS, *sets, "-o", out).error_line()
    assert re.match(r"Training diverged by step 5: \d+ weight tensor\(s\) hold NaN or inf \(", line), line
    assert "has no checkpoint yet (run.save_every = 5)" in line and not (out / STATE_FILE).exists()


def test_ctrl_c_saves_the_last_step_prints_the_resume_command_and_the_resumed_run_completes(run_cli, tmp_path):
    out = tmp_path / "run"
    long = (*SETS, "--set", "schedule.epochs=20")  # 280 steps: a few seconds, so Ctrl-C comes mid-run
    command = [sys.executable, "-m", "stickeval", "train", "--recipe", "pretrain-nano", *long, "-o", str(out)]
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        lines = []
        for line in proc.stderr:  # off a terminal the first step is printed at once
            lines.append(line)
            if line.startswith("step "):
                break
        proc.send_signal(signal.SIGINT)
        lines += proc.stderr.readlines()
    assert proc.returncode == 130, "".join(lines)
    last = lines[-1].rstrip("\n")
    step = load_state(out).step
    assert last == f"Interrupted at step {step} of 280; saved a checkpoint of it in {out}. Resume with: stickeval train --resume {out}"
    assert 1 <= step < 280 and "Traceback" not in "".join(lines)
    resumed = run_cli(*last.split("Resume with: stickeval ")[1].split())
    assert resumed.exit_code == 0, resumed.stderr
    logged = [entry["step"] for entry in map(json.loads, (out / "train_log.jsonl").read_text().splitlines()) if "loss" in entry]
    assert logged == list(range(1, 281)) and load_state(out).step == 280
