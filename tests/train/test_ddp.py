"""torchrun: 2 CPU processes (gloo) follow the same loss curve as 1 process at the same global batch."""

import json
import os
import subprocess
import sys

import pytest

from tests.train.conftest import TINY

# Dropout off: each process draws its own dropout masks, which one process of twice the batch cannot
# reproduce; with it off the only difference is the order of float additions in the gradient average.
COMMON = [*TINY, "model.dropout=0.0", "schedule.epochs=1"]
TOLERANCE = 1e-5  # relative, per logged loss over 14 steps (measured: at most 1.2e-7)


def run(out, nproc: int, batch_size: int) -> list[float]:
    sets = [arg for item in [*COMMON, f"schedule.batch_size={batch_size}"] for arg in ("--set", item)]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "stickeval", "train", "--recipe", "pretrain-nano", *sets, "-o", str(out), "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return [line["loss"] for line in lines if "loss" in line]


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_at_the_same_global_batch(tmp_path):
    one = run(tmp_path / "one", 1, 8)
    two = run(tmp_path / "two", 2, 4)
    assert len(one) == len(two) == 14
    for a, b in zip(one, two):
        assert abs(a - b) <= TOLERANCE * abs(a), (one, two)
