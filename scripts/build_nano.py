"""Retrain the built-in `nano` and `nano-sft` from scratch and ship them into stickeval/zoo/builtin/ (`make nano`).

Runs the two training commands exactly as a user would (their lines are recorded in each manifest),
then exports the runs as fp16 with `stickeval.zoo.builtin_weights.export_run`: nano as full weights, nano-sft as
LoRA adapters only, checked to have been trained over the shipped nano. Each manifest.json records the
commands, recipe, seed, data hash, torch version, machine, load, training time and the sha256 of every
file. One thread (OMP_NUM_THREADS=1): CPU results are then bit-identical on the same machine and torch.

    python scripts/build_nano.py [--runs runs/nano-build]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

import stickeval
from stickeval.train import load_recipe
from stickeval.zoo import get_variant
from stickeval.zoo.builtin_weights import WEIGHTS, export_run

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "stickeval" / "train" / "recipes"
FIRST_STEPS = 20  # the manifest keeps the log of the first FIRST_STEPS steps: tests/zoo/test_builtin.py retrains them
REPRODUCIBILITY = (
    "On CPU with OMP_NUM_THREADS=1, `make nano` on the same machine and torch version rewrites these files bit for bit "
    "(sha256 equal). On another CPU or torch version the float kernels round differently: the first "
    f"{FIRST_STEPS} steps' losses agree to 1e-4 relative (tests/zoo/test_builtin.py), then the runs drift apart and "
    "the retrain is another model of the same standing, not equal within the 95% CIs on every figure: the same "
    "recipe trained on an NVIDIA H200 in fp32 matched this build's StickBench action accuracy within the CIs but "
    "not its Frechet distance (docs/benchmarks.md, 'The built-in nano and nano-sft')."
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": 1,
        "load_average_at_start": os.getloadavg()[0],
    }


def _git() -> str | None:
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _run(argv: list[str], run_dir: Path) -> tuple[str, float]:
    """Run a stickeval command in a fresh run directory with one torch thread; its shell line and seconds."""
    shutil.rmtree(run_dir, ignore_errors=True)
    line = "OMP_NUM_THREADS=1 stickeval " + shlex.join(argv)
    print(f"$ {line}", flush=True)
    started = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "stickeval", *argv], cwd=ROOT, env=env, check=True)
    return line, round(time.perf_counter() - started, 1)


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines() if line]


def _manifest(name: str, recipe_name: str, line: str, seconds: float, run_dir: Path, machine: dict) -> dict:
    recipe_file = RECIPES / f"{recipe_name}.toml"
    summary = json.loads((run_dir / "training.json").read_text())
    log = _log(run_dir)
    steps = [e for e in log if "loss" in e]
    return {
        "name": name,
        "made_by": "make nano (scripts/build_nano.py): the command below, then export to fp16",
        "commands": [line],
        "recipe": {
            "name": recipe_name,
            "file": str(recipe_file.relative_to(ROOT)),
            "sha256": hashlib.sha256(recipe_file.read_bytes()).hexdigest(),
            "seed": load_recipe(recipe_name).run.seed,
        },
        "data": {**summary["data"], "n_train": summary["n_train"], "n_val": summary["n_val"], "curation": summary["curation"]},
        "training": {
            "steps": summary["steps"],
            "seconds": seconds,
            "final_loss": steps[-1]["loss"],
            "val_losses": [e["val_loss"] for e in log if "val_loss" in e],
            "first_steps": [e for e in steps if e["step"] <= FIRST_STEPS],
        },
        "dtype": "float16",
        "environment": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "stickeval": stickeval.__version__,
            "git": _git(),
            "machine": machine,
        },
        "reproducibility": REPRODUCIBILITY,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/nano-build"), help="where the training runs go")
    runs = parser.parse_args().runs.resolve()
    os.chdir(ROOT)  # the commands run in the checkout, so the manifest's command lines can name runs/... briefly
    runs = runs.relative_to(ROOT) if runs.is_relative_to(ROOT) else runs
    machine = _machine()
    started = time.perf_counter()
    nano, sft = get_variant("nano"), get_variant("nano-sft")
    line, seconds = _run(["train", "--recipe", nano.recipe, "-o", str(runs / "nano")], runs / "nano")
    export_run(runs / "nano", nano.builtin_dir, _manifest("nano", nano.recipe, line, seconds, runs / "nano", machine))
    line, seconds = _run(["finetune", "nano", "--recipe", sft.recipe, "-o", str(runs / "nano-sft")], runs / "nano-sft")
    manifest = _manifest("nano-sft", sft.recipe, line, seconds, runs / "nano-sft", machine)
    manifest["base"] = {"variant": "nano", "sha256": hashlib.sha256((nano.builtin_dir / WEIGHTS).read_bytes()).hexdigest()}
    manifest["made_by"] = "make nano (scripts/build_nano.py): the command below, then its LoRA adapters alone exported to fp16"
    export_run(runs / "nano-sft", sft.builtin_dir, manifest, base_dir=nano.builtin_dir)
    print(f"make nano: {time.perf_counter() - started:.0f} s; weights in {nano.builtin_dir.parent}", flush=True)


if __name__ == "__main__":
    main()
