"""`stickeval run` under torchrun (2 gloo processes on the CPU): the same numbers as 1 process, a killed
rank fails the job fast naming it, and `--resume` on another process count completes and matches."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stickeval.distributed import process_group, timeout_seconds
from stickeval.errors import DistributedError
from stickeval.evaluation.cache import RolloutCache

# nano on 8 quick-suite prompts with noise: 8 clean + 8 other + 18 x 8 noisy = 160 rows in 20 chunks of 8,
# so each of 2 ranks has 10 chunks (a few seconds of work: long enough to be killed halfway)
RUN = ["run", "nano", "--limit", "8", "--chunk-rows", "8", "--device", "cpu"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
RTOL = 1e-6  # the ranks run the very batches of one process, so the numbers agree to float rounding or better


def stickeval(*args, nproc: int = 1) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "stickeval", *RUN, *map(str, args), "--nproc", str(nproc)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=ENV)


def assert_same_numbers(a, b, where: str = "") -> None:
    """Equal documents, floats to RTOL."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_numbers(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_numbers(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), (where, a, b)
    else:
        assert a == b, (where, a, b)


def numbers(run_dir: Path) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    return {"metrics": results["metrics"], "breakdowns": results["breakdowns"], "suite": results["suite"]}


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("one")
    proc = stickeval("-o", out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def rank_pid(parent: int, rank: int, timeout: float = 60.0) -> int:
    """The pid of the torchrun worker of `rank` started by process `parent` (read from /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    if f"\0RANK={rank}\0" in "\0" + (entry / "environ").read_bytes().decode(errors="replace"):
                        return int(entry.name)
            except (OSError, IndexError, ValueError):  # the process ended while being read
                continue
        time.sleep(0.05)
    raise AssertionError(f"no rank {rank} under pid {parent} after {timeout} s")


def test_chunks_are_shared_between_any_number_of_processes_each_exactly_once(tmp_path):
    cache = RolloutCache(tmp_path, 160, 8)
    for world_size in (1, 2, 3, 8):
        shards = [cache.shard(rank, world_size) for rank in range(world_size)]
        assert sorted(b for shard in shards for b in shard) == cache.bounds()
        assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_a_world_size_without_torchrun_is_refused_in_one_line(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(DistributedError, match="launch with `torchrun --nproc-per-node N -m stickeval"):
        with process_group(__import__("torch").device("cpu")):
            pass


def test_a_bad_timeout_setting_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("STICKEVAL_DIST_TIMEOUT_S", "soon")
    with pytest.raises(DistributedError, match="STICKEVAL_DIST_TIMEOUT_S='soon' is not a positive number"):
        timeout_seconds()


@pytest.mark.slow
def test_two_gloo_processes_write_the_numbers_of_one_process(one_process, tmp_path):
    proc = stickeval("-o", tmp_path, nproc=2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert_same_numbers(numbers(tmp_path), numbers(one_process))
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["processes"] == 2 and run["chunk_rows"] == 8
    assert "rank" not in proc.stderr.lower()  # progress from rank 0 only, no failure


@pytest.mark.slow
def test_a_killed_rank_fails_the_job_fast_naming_it_and_resume_on_one_process_matches(one_process, tmp_path):
    cmd = [sys.executable, "-m", "stickeval", *RUN, "-o", str(tmp_path), "--nproc", "2"]
    job = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        victim = rank_pid(job.pid, 1)
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("generations/*/rows-0000008-0000016.*.npz")):  # rank 1's first chunk
            assert time.monotonic() < deadline and job.poll() is None, "rank 1 never saved a chunk"
            time.sleep(0.02)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = job.communicate(timeout=60)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 1
    assert time.monotonic() - killed < 30  # torchrun stops the other rank at once: no wait for a timeout
    assert "Error: rank 1 of 2 was killed by SIGKILL; torchrun stopped the other ranks." in stderr
    assert "rerun with --resume" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "results.json").exists()
    resumed = stickeval("-o", tmp_path, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    run = json.loads((tmp_path / "run.json").read_text())
    assert 0 < run["rows_generated_now"] < 160  # the chunks both ranks had saved were kept
    assert_same_numbers(numbers(tmp_path), numbers(one_process))
