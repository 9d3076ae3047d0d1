"""`stickeval run` and `stickeval score`, run through the real entry point on a tiny checkpoint.

One real generation (4 quick-suite prompts, noise on 2 of them) is shared by the tests that read a
run directory; each of them works on its own copy, because `run` and `score` rewrite results.json.
"""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from stickeval.cli import main
from stickeval.data import save_dataset
from tests.fixtures.checkpoints import build_tiny_checkpoint

RUN_ARGS = ("--limit", "4", "--noise-prompts", "2")  # 4 clean + 2 other + 6 kinds x 3 levels x 2 noisy = 42 rollouts


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), metadata={"encoder": "hash"})


@pytest.fixture(scope="module")
def json_run(ckpt, tmp_path_factory) -> tuple[Path, int, str, str]:
    """`stickeval run CKPT --limit 4 --noise-prompts 2 -o DIR --json --log-samples`, once for the module.

    Returns (DIR, exit code, stdout, stderr). Captured by redirecting sys.stdout/sys.stderr (what
    the `run_cli` fixture sees through capsys, which is per test).
    """
    out = tmp_path_factory.mktemp("runs") / "tiny"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            main(["run", str(ckpt), *RUN_ARGS, "-o", str(out), "--json", "--log-samples"])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    return out, code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture
def run_copy(json_run, tmp_path) -> Path:
    """A private copy of the shared run directory (generations cached, results written)."""
    return Path(shutil.copytree(json_run[0], tmp_path / "run"))


# ---- run: success


def test_run_json_prints_one_document_with_every_metric_and_writes_it_to_results_json(json_run):
    out, code, stdout, stderr = json_run
    assert code == 0, stderr
    doc = json.loads(stdout)  # the whole of stdout is one JSON document: progress and logs went to stderr
    assert doc == json.loads((out / "results.json").read_text())
    assert doc["suite"]["n"] == 4 and doc["config"]["rows"] == 42 and doc["timing"]["rows_generated_now"] == 42
    assert {"pose_mse", "temporal_consistency", "action_accuracy", "robustness", "frechet_distance"} <= set(doc["metrics"])
    for name, metric in doc["metrics"].items():
        assert {"mean", "ci95", "n"} <= set(metric), name
        assert len(metric["ci95"]) == 2 and (metric["n"] >= 1 or "pools of 32" in metric["note"]), name  # 4 prompts
    assert doc["metrics"]["pose_mse"]["n"] == 4
    assert np.isfinite(doc["metrics"]["pose_mse"]["mean"])


def test_run_table_names_every_metric_and_says_where_the_results_are(ckpt, run_copy, run_cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no metric name is truncated
    result = run_cli("run", ckpt, *RUN_ARGS, "-o", run_copy)
    assert result.exit_code == 0, result.stderr
    for name in json.loads((run_copy / "results.json").read_text())["metrics"]:
        assert name in result.stdout, name
    assert f"Results: {run_copy / 'results.json'}" in result.stderr
    assert "All 42 rollouts came from the cache (generated earlier at " in result.stderr  # the cached generations were reused
    assert "generating" not in result.stderr  # no progress, and no rate of cached rows "per second"


def test_run_records_the_threads_it_ran_on(json_run):
    from stickeval.device import cpu_budget

    config = json.loads(json_run[2])["config"]
    assert config["threads"] == cpu_budget() and config["generation_threads"] == max(1, cpu_budget() - 1)


def test_run_with_log_samples_writes_one_json_line_per_prompt(json_run):
    out, code, _, stderr = json_run
    assert code == 0, stderr
    lines = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and len({line["id"] for line in lines}) == 4
    assert {"pose_mse", "action_accuracy"} <= set(lines[0]["scores"])


# ---- score


def test_score_json_reproduces_the_metrics_of_the_run(json_run, run_copy, run_cli):
    result = run_cli("score", run_copy, "--json")
    assert result.exit_code == 0, result.stderr
    rescored, original = json.loads(result.stdout), json.loads(json_run[2])
    assert rescored["metrics"] == original["metrics"]
    assert rescored["reference"] == original["reference"]
    assert rescored["timing"]["rows_generated_now"] == 42  # what the run generated, not regenerated
    assert rescored == json.loads((run_copy / "results.json").read_text())


def test_score_says_it_scored_cached_rollouts_not_that_it_generated_them(run_copy, run_cli):
    result = run_cli("score", run_copy, "--threads", "1")
    assert result.exit_code == 0, result.stderr
    assert "Scored 42 cached rollouts (the run generated them at " in result.stderr
    assert "generated now" not in result.stderr


def test_score_of_a_directory_without_a_run_exits_1_naming_run(run_cli, tmp_path):
    assert "run `stickeval run`" in run_cli("score", tmp_path).error_line()


# ---- run: output directories


def test_run_into_a_directory_of_another_suite_exits_1_naming_it_and_force_replaces_it(ckpt, run_copy, run_cli, tmp_path):
    from stickeval.data import suite_to_samples
    from stickeval.data.stickbench import load_suite

    save_dataset(suite_to_samples(load_suite("quick", split="test", limit=3)), tmp_path / "three.pt")
    args = ("run", ckpt, "--data", tmp_path / "three.pt", "--no-noise", "-o", run_copy)
    message = run_cli(*args).error_line()
    assert message == f"{run_copy} already holds a run of {ckpt} on stickbench-quick; pass another -o/--out, or --force to replace it."
    assert (run_copy / "samples.jsonl").exists()  # nothing touched
    forced = run_cli(*args, "--force")
    assert forced.exit_code == 0, forced.stderr
    assert json.loads((run_copy / "results.json").read_text())["suite"]["name"] == "three"
    assert not (run_copy / "samples.jsonl").exists()  # the other run's files went with it


def test_run_into_a_directory_of_other_files_exits_1_and_leaves_them(ckpt, run_cli, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("keep me")
    message = run_cli("run", ckpt, *RUN_ARGS, "-o", tmp_path / "out").error_line()
    assert message == (
        f"{tmp_path / 'out'} is not empty (notes.txt) and holds no stickeval run; pass a new or empty directory "
        "to -o/--out, or --force to write into it."
    )
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.txt"]


# ---- run: bad input


def test_run_with_an_unknown_suite_exits_1_suggesting_the_close_name(ckpt, run_cli, tmp_path):
    message = run_cli("run", ckpt, "--suite", "quik", "--no-noise", "-o", tmp_path / "out").error_line()
    assert "Unknown suite 'quik'" in message and "Did you mean quick" in message
    assert not (tmp_path / "out").exists()  # a refused run leaves no directory behind


def test_run_with_an_output_path_that_is_a_file_exits_1_and_leaves_the_file_alone(ckpt, run_cli, tmp_path):
    (tmp_path / "results").write_text("keep me")
    message = run_cli("run", ckpt, "--limit", "4", "--no-noise", "-o", tmp_path / "results").error_line()
    assert "is a file" in message and "Pass a directory" in message
    assert (tmp_path / "results").read_text() == "keep me"


def test_run_with_an_unknown_variant_exits_1_suggesting_close_names(run_cli, tmp_path):
    message = run_cli("run", "larg-sft", "--no-noise", "-o", tmp_path / "out").error_line()
    assert "Unknown variant 'larg-sft'" in message and "Did you mean large-sft" in message


def test_run_with_a_missing_data_file_exits_1_naming_it(ckpt, run_cli, tmp_path):
    missing = tmp_path / "none.pt"
    message = run_cli("run", ckpt, "--data", missing, "--no-noise", "-o", tmp_path / "out").error_line()
    assert str(missing) in message and "not found" in message
    assert not (tmp_path / "out").exists()


def test_run_on_a_dataset_of_another_schema_exits_1_naming_both_widths(ckpt, run_cli, tmp_path):
    frames = 16
    v3_sample = {"description": "a person waves", "motion": np.zeros((frames, 48), np.float32), "actions": np.zeros(frames, np.int64)}
    save_dataset([v3_sample, v3_sample], tmp_path / "v3.pt")
    message = run_cli("run", ckpt, "--data", tmp_path / "v3.pt", "--no-noise", "-o", tmp_path / "out").error_line()
    assert "48 numbers per frame but the model takes 20" in message
    assert not (tmp_path / "out").exists()


def test_run_on_an_empty_dataset_exits_1_saying_it_has_no_samples(ckpt, run_cli, tmp_path):
    save_dataset([], tmp_path / "empty.pt")
    message = run_cli("run", ckpt, "--data", tmp_path / "empty.pt", "--no-noise", "-o", tmp_path / "out").error_line()
    assert "empty.pt has no usable samples" in message


def test_limit_1_exits_1_before_generating_anything(ckpt, run_cli, tmp_path):
    result = run_cli("run", ckpt, "--limit", "1", "-o", tmp_path / "out")
    assert result.error_line() == "--limit must be at least 2 (Fréchet distance and diversity compare sets of clips), got 1."
    assert "generating" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("verb", ["run", "score", "bench"])
def test_threads_below_1_is_a_usage_error(run_cli, tmp_path, verb):
    result = run_cli(verb, tmp_path, "--threads", "0")
    assert result.exit_code == 2 and "--threads" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("verb", ["run", "bench"])
def test_a_revision_of_the_builtin_nano_is_refused_before_any_work_not_ignored(run_cli, tmp_path, verb):
    result = run_cli(verb, "nano", "--revision", "abc123", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "nano is built into stickeval and has no revisions; drop --revision." in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


def test_a_revision_of_a_local_checkpoint_is_refused_not_ignored(ckpt, run_cli, tmp_path):
    result = run_cli("run", ckpt, "--revision", "abc123", "-o", tmp_path / "out")
    assert result.exit_code == 1 and "is a local checkpoint and has no revisions" in " ".join(result.stderr.split())


def test_run_without_a_variant_is_a_usage_error(run_cli):
    result = run_cli("run")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr and "Traceback" not in result.stderr


def test_a_limit_above_the_suite_size_says_all_samples_were_used(ckpt, run_cli, tmp_path):
    from stickeval.data import suite_to_samples
    from stickeval.data.stickbench import load_suite

    save_dataset(suite_to_samples(load_suite("quick", split="test", limit=3)), tmp_path / "three.pt")
    result = run_cli("run", ckpt, "--data", tmp_path / "three.pt", "--limit", "100000", "--no-noise", "-o", tmp_path / "run", "--json")
    assert result.exit_code == 0, result.stderr
    notices = json.loads(result.stdout)["notices"]
    assert "--limit 100000 is more than the 3 samples of three; all 3 were used." in notices


def _stickeval_at_80_columns(*args) -> str:
    """stdout of the installed `stickeval` in a pipe (not a terminal) with COLUMNS=80, as a CI log records it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "80", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "stickeval", *map(str, args)], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_results_table_fits_80_columns_in_a_pipe_with_whole_names_and_intervals(run_copy):
    stdout = _stickeval_at_80_columns("score", run_copy)
    lines = stdout.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), stdout
    assert "…" not in stdout
    metrics = json.loads((run_copy / "results.json").read_text())["metrics"]
    for name in metrics:
        row = next(line for line in lines if line.startswith(f"{name} "))
        assert row.count("[") == row.count("]") == 1, row  # the interval is on the metric's line, not wrapped
    assert "docs/metrics.md" in stdout and "real: another real clip" in stdout


def test_the_results_path_stays_one_line_however_narrow_the_terminal(ckpt, json_run, run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # as rich assumes in a pipe or a CI log
    out = Path(shutil.copytree(json_run[0], tmp_path / ("a-run-directory-with-a-long-name-" * 3) / "run"))
    result = run_cli("run", ckpt, *RUN_ARGS, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert f"Results: {out / 'results.json'}\n" in result.stderr and len(str(out)) > 80
