"""Engine throughput on one GPU: the `bench` figures of docs/benchmarks.md, per published size.

    PYTHONPATH=. python benchmarks/gpu/engine.py --out runs/bench-gpu/engine.json
    PYTHONPATH=. python benchmarks/gpu/engine.py --sizes large --compile 1,0 --correctness 0 --out runs/bench-gpu/large.json

For each size (random weights; speed does not depend on their values): batched bf16 generation of
1,024 prompts x 250 frames in one batch (eager and torch.compile), the original per-prompt fp32 loop,
and the device's measured bf16 matmul peak; then, unless --correctness 0, agreement on the GPU: bf16
against fp32 rollouts, and batch 64 against batch 7. Prints a table and writes every row to --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from stickeval.generation import generate
from stickeval.throughput import bench
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

SIZES = {
    "small": ModelConfig(d_model=256, nhead=8, num_layers=6),
    "medium": ModelConfig(d_model=384, nhead=12, num_layers=8),
    "large": ModelConfig(d_model=512, nhead=16, num_layers=10),
}


def relative_l2(a: np.ndarray, reference: np.ndarray) -> float:
    """||a - reference|| / ||reference||."""
    return float(np.linalg.norm(a - reference) / np.linalg.norm(reference))


def correctness(model: StickFigureTransformer, n: int = 64, frames: int = 250) -> dict:
    """How far rollouts on the GPU move with the dtype (bf16 against fp32) and the batch size (n against 7)."""
    rng = np.random.default_rng(1)
    texts = rng.standard_normal((n, 1024)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    actions = rng.integers(0, 64, (n, frames))
    first = rng.standard_normal((n, 20)).astype(np.float32) * 0.5
    kw = dict(frames=frames, first_frames=first, device="cuda")
    fp32 = generate(model, texts, actions, dtype="float32", batch_size=n, **kw).motion
    fp32_b7 = generate(model, texts, actions, dtype="float32", batch_size=7, **kw).motion
    bf16 = generate(model, texts, actions, dtype="bfloat16", batch_size=n, **kw).motion
    bf16_b7 = generate(model, texts, actions, dtype="bfloat16", batch_size=7, **kw).motion
    return {
        "fp32_batch64_vs_batch7_max_abs": float(np.abs(fp32 - fp32_b7).max()),
        "bf16_batch64_vs_batch7_max_abs": float(np.abs(bf16 - bf16_b7).max()),
        "bf16_vs_fp32_rel_l2": relative_l2(bf16, fp32),
        "bf16_vs_fp32_rel_l2_frame1": relative_l2(bf16[:, 1], fp32[:, 1]),
        "bf16_vs_fp32_max_abs": float(np.abs(bf16 - fp32).max()),
        "motion_rms": float(np.sqrt((fp32**2).mean())),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--prompts", type=int, default=1024)
    parser.add_argument("--compile", default="0,1", help="comma list: 0 eager, 1 compiled, or a torch.compile mode")
    parser.add_argument("--correctness", type=int, default=1)
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "runs": [], "correctness": {}}
    for name in args.sizes.split(","):
        torch.manual_seed(0)
        model = StickFigureTransformer(SIZES[name]).eval()
        if args.correctness:
            results["correctness"][name] = correctness(model)
            print(name, results["correctness"][name], flush=True)
        for compiled in [{"0": False, "1": True}.get(c, c) for c in args.compile.split(",")]:
            r = bench(model, n_prompts=args.prompts, batch_size=args.prompts, compile=compiled, measure_peak=True)
            row = {"size": name, **r.to_dict()}
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
            with open(args.out, "w") as f:
                json.dump(results, f, indent=2)
    print(f"{'size':8} {'compile':8} {'seq/s':>8} {'TFLOP/s':>8} {'peak':>6} {'frac':>6} {'loop/s':>7} {'speedup':>8}")
    for r in results["runs"]:
        print(
            f"{r['size']:8} {str(r['compile']):8} {r['sequences_per_second']:8.1f} {r['tflops']:8.1f} "
            f"{r['peak_tflops']:6.0f} {r['fraction_of_peak']:6.1%} {r['baseline_sequences_per_second']:7.3f} {r['speedup']:8.0f}"
        )


if __name__ == "__main__":
    sys.exit(main())
