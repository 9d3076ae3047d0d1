"""torchrun: 2 CPU processes (gloo) follow the same loss curve as 1 process at the same global batch, for
`train` and for `finetune` (LoRA over the built-in nano); a checkpoint resumes only with its process count.

The loss curves agree to TOLERANCE: with dropout and scheduled sampling off, one process of batch 2b and two of batch b see the
same samples in each step (DistributedSampler shards one permutation), so the only difference is the
order of float additions in the gradient average (measured: at most 1.2e-7 relative over 14 steps).
"""

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import TINY

# Dropout and scheduled sampling off: each process draws its own dropout masks and its own choice of the
# frames fed back, which one process of twice the batch cannot reproduce; with both off the only
# difference is the order of float additions in the gradient average.
RANDOM_OFF = ["model.dropout=0.0", "objective.scheduled_sampling=0.0"]
COMMON = [*TINY, *RANDOM_OFF, "schedule.epochs=1"]
# sft-nano at smoke size: quick StickBench at 24 frames, a few steps (the recipe's LoRA dropout is 0).
FINETUNE = ['data.stickbench_size="quick"', "data.n_frames=24", *RANDOM_OFF, "run.log_every=1", "schedule.epochs=1"]
TOLERANCE = 1e-5  # relative, per logged loss


def torchrun(nproc: int, args: list[str]) -> subprocess.CompletedProcess:
    """`torchrun --nproc-per-node nproc -m stickeval ARGS` on the CPU, one thread per process."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "stickeval", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)


def sets(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


def losses(out) -> list[float]:
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return [line["loss"] for line in lines if "loss" in line]


def assert_same_curve(one: list[float], two: list[float], n: int) -> None:
    assert len(one) == len(two) == n
    for a, b in zip(one, two):
        assert abs(a - b) <= TOLERANCE * abs(a), (one, two)


def train(out, nproc: int, batch_size: int) -> list[float]:
    args = ["train", "--recipe", "pretrain-nano", *sets([*COMMON, f"schedule.batch_size={batch_size}"]), "-o", str(out), "--device", "cpu"]
    proc = torchrun(nproc, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return losses(out)


def finetune(out, nproc: int, batch_size: int, *more: str) -> subprocess.CompletedProcess:
    args = [
        "finetune",
        "nano",
        "--recipe",
        "sft-nano",
        *sets([*FINETUNE, f"schedule.batch_size={batch_size}"]),
        "-o",
        str(out),
        "--device",
        "cpu",
        *more,
    ]
    return torchrun(nproc, args)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_at_the_same_global_batch(tmp_path):
    assert_same_curve(train(tmp_path / "one", 1, 8), train(tmp_path / "two", 2, 4), 14)


@pytest.mark.slow
def test_a_two_process_lora_finetune_of_nano_matches_one_process_and_resumes_only_on_two(tmp_path, run_cli):
    one = finetune(tmp_path / "one", 1, 16, "--max-steps", "4")
    two = finetune(tmp_path / "two", 2, 8, "--max-steps", "2")
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    # one process cannot continue a two-process checkpoint: a one-line refusal naming the command that can
    refused = run_cli("train", "--resume", tmp_path / "two", "--device", "cpu")
    assert refused.exit_code == 1
    assert "checkpointed by 2 process(es), this job has 1" in refused.stderr
    assert "torchrun --nproc-per-node 2 -m stickeval finetune ... --resume" in refused.stderr
    assert "Traceback" not in refused.stderr
    resumed = torchrun(2, ["train", "--resume", str(tmp_path / "two"), "--max-steps", "4", "--device", "cpu"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_curve(losses(tmp_path / "one"), losses(tmp_path / "two"), 4)


@pytest.mark.slow
def test_eval_every_under_two_processes_logs_once_the_numbers_stickeval_run_gives_on_the_same_weights(tmp_path, run_cli, tiny_pt):
    # Both processes generate their share of the rollouts; rank 0 alone writes the log and evals/step-N.
    out = tmp_path / "two"
    evaluate = ["--eval-every", "2", "--eval-data", str(tiny_pt), "--eval-limit", "6", "--max-steps", "2"]
    args = ["train", "--recipe", "pretrain-nano", *sets([*COMMON, "schedule.batch_size=4"]), "-o", str(out), "--device", "cpu", *evaluate]
    two = torchrun(2, args)
    assert two.returncode == 0, two.stderr[-2000:]
    evals = [line for line in map(json.loads, (out / "train_log.jsonl").read_text().splitlines()) if "eval" in line]
    assert [line["step"] for line in evals] == [2]
    assert (out / "evals" / "step-2" / "results.json").is_file()
    scored = run_cli("run", out, "--data", tiny_pt, "--limit", "6", "--json", "-o", tmp_path / "check")
    assert scored.exit_code == 0, scored.stderr
    metrics = json.loads(scored.stdout)["metrics"]
    assert {name: (metrics[name]["mean"], metrics[name]["ci95"]) for name in evals[0]["eval"]} == {
        name: (e["mean"], e["ci95"]) for name, e in evals[0]["eval"].items()
    }
