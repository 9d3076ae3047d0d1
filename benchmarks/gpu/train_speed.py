"""sft-large training speed on one GPU: eager and compiled, micro-batch 2 and auto, at the published global batch.

    PYTHONPATH=. python benchmarks/gpu/train_speed.py    # a Markdown table; JSON to --out or $OUT/train_speed.json

Self-contained (no network): writes the StickBench standard train split as a Stick-Gen `.pt` file in
the original format (embeddings from the built-in hash encoder at 1,024 dims: bge-large needs the
network, and speed does not depend on the embeddings' values), then trains the sft-large recipe from
a random init (`model.init_from=""`) with `stickeval.train.train` four ways, each at the recipe's
global batch of 2 x 64 = 128 samples per optimizer step, bf16 autocast, fused AdamW:

    eager, micro-batch 2      --set schedule.micro_batch=2 --no-compile   (the original's execution)
    eager, auto               --no-compile                                 (the largest micro-batch that fits)
    compiled, micro-batch 2   --set schedule.micro_batch=2 --compile
    compiled, auto            --compile                                    (the default on CUDA)

Each runs `--warmup` optimizer steps (compilation, kernel choices, the allocator), then `--steps`
timed ones (`--steps-mb2` at micro-batch 2, about 2.7 s a step eager on an H100). The rates are the
trainer's own per-step figures (train_log.jsonl: samples/s, achieved TFLOP/s from
`stickeval.train.speed.training_flops_per_sample`, the fraction of the bf16 matmul peak the trainer
measured with `stickeval.throughput.measure_peak_tflops`), as the median over the timed steps: an
epoch (9 steps here) ends with a partial step and a validation pass, both eager in a compiled run
(`execution.CompiledLoss`); the median leaves such steps out and the wall column (the whole call,
compilation included) keeps them.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.device import device_name
from stickeval.text import get_encoder
from stickeval.train import load_recipe, train

GOAL = 0.35  # compiled auto: at least this share of the measured bf16 peak
CONFIGS = (  # name, micro-batch override, compile
    ("eager, micro-batch 2", "2", False),
    ("eager, auto", '"auto"', False),
    ("compiled, micro-batch 2", "2", True),
    ("compiled, auto", '"auto"', True),
)


def write_data(directory: Path) -> Path:
    """The StickBench standard train split as a Stick-Gen .pt file (hash embeddings at 1,024 dims)."""
    suite = load_suite("standard", split="train")
    path = directory / "stickbench_standard_train.pt"
    save_dataset(suite_to_samples(suite, get_encoder("hash", dim=1024).encode(list(suite.prompts))), path)
    return path


def measure(name: str, micro: str, compiled: bool, data: Path, work: Path, warmup: int, steps: int) -> dict:
    """Train sft-large for warmup + steps optimizer steps; the trainer's logged rates over the timed steps."""
    recipe = load_recipe("sft-large", ['model.init_from=""', "run.save_every=0", "run.log_every=1", f"schedule.micro_batch={micro}"])
    start, logged = {}, {}

    def on_event(event) -> None:
        if event.kind == "start":
            start.update(event.values)
        elif event.kind == "step":
            logged[event.step] = event.values

    torch._dynamo.reset()  # each compiled configuration starts cold, and none fills the others' recompile budget
    torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    result = train(
        recipe,
        work / name.replace(", ", "-").replace(" ", "-"),
        data_path=data,
        max_steps=warmup + steps,
        device="cuda",
        compile=compiled,
        callback=on_event,
    )
    wall = time.perf_counter() - began
    timed = [logged[s] for s in sorted(logged) if s > warmup]
    losses = [logged[s]["loss"] for s in sorted(logged)]
    row = {
        "config": name,
        "compiled": compiled,
        "micro_batch": result.micro_batch,
        "global_batch": start["global_batch"],
        "steps_timed": len(timed),
        "samples_per_s": statistics.median(v["samples_per_s"] for v in timed),
        "tflops": statistics.median(v["tflops"] for v in timed),
        "fraction_of_peak": statistics.median(v["fraction_of_peak"] for v in timed),
        "peak_tflops": start["peak_tflops"],
        "flops_per_sample": start["flops_per_sample"],
        "wall_seconds": wall,
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "loss_first3_mean": statistics.mean(losses[:3]),
        "loss_last3_mean": statistics.mean(losses[-3:]),
        "n_train": result.n_train,
    }
    row["loss_falling"] = row["loss_last3_mean"] < row["loss_first3_mean"]
    gc.collect()
    torch.cuda.empty_cache()
    return row


def table(rows: list[dict]) -> str:
    lines = [
        "| configuration | micro-batch | steps timed | samples/s | TFLOP/s | of bf16 peak | wall s (with compile) | max memory GiB | loss, first -> last step |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['config']} | {r['micro_batch']} | {r['steps_timed']} | {r['samples_per_s']:,.0f} | {r['tflops']:,.1f} "
            f"| {r['fraction_of_peak']:.1%} | {r['wall_seconds']:.0f} | {r['max_memory_gib']:.1f} "
            f"| {r['loss_first']:.1f} -> {r['loss_last']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=3, help="optimizer steps left out of the rates")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps at micro-batch auto")
    parser.add_argument(
        "--steps-mb2", type=int, default=5, help="timed optimizer steps at micro-batch 2 (8 in all: within the first epoch)"
    )
    parser.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) / "train_speed.json" if os.environ.get("OUT") else None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    began = time.perf_counter()
    data = write_data(work)
    print(f"data: {data} ({time.perf_counter() - began:.0f} s)", flush=True)
    rows = []
    for name, micro, compiled in CONFIGS:
        steps = args.steps_mb2 if micro == "2" else args.steps
        rows.append(measure(name, micro, compiled, data, work, args.warmup, steps))
        r = rows[-1]
        print(f"{name}: {r['samples_per_s']:,.0f} samples/s, {r['fraction_of_peak']:.1%} of peak, {r['wall_seconds']:.0f} s", flush=True)
    best = rows[-1]
    report = {
        "device": device_name(torch.device("cuda")),
        "torch": torch.__version__,
        "recipe": "sft-large",
        "peak_bf16_tflops": best["peak_tflops"],
        "goal_fraction_of_peak": GOAL,
        "goal_met": best["fraction_of_peak"] >= GOAL,
        "seconds": time.perf_counter() - began,
        "configs": rows,
    }
    print()
    print(
        f"sft-large, global batch {best['global_batch']}, {best['n_train']} training clips, {report['device']}, torch {report['torch']}, "
        f"measured bf16 peak {best['peak_tflops']:,.0f} TFLOP/s, {best['flops_per_sample'] / 1e9:.1f} GFLOP per sample"
    )
    print()
    print(table(rows))
    print()
    print(
        f"compiled auto: {best['fraction_of_peak']:.1%} of the peak (goal {GOAL:.0%}: {'met' if report['goal_met'] else 'NOT met'}); "
        f"loss falling in every configuration: {all(r['loss_falling'] for r in rows)}; {report['seconds']:.0f} s in all"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
