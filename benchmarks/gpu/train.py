"""Training throughput of the sft-large recipe on one GPU: the training figures of docs/benchmarks.md.

    PYTHONPATH=. python benchmarks/gpu/train.py --steps 25 --skip 5 --out runs/bench-gpu/train-b2.json
    PYTHONPATH=. python benchmarks/gpu/train.py --steps 60 --skip 10 --set schedule.batch_size=64 --set schedule.grad_accum=2 \
        --out runs/bench-gpu/train-b64.json

Self-contained: writes the StickBench standard train split as a Stick-Gen `.pt` file in the original
format (embeddings from the built-in hash encoder at 1024 dims, so nothing is downloaded; speed does
not depend on the embeddings' values), then runs `stickeval.train.train` on
the sft-large recipe (batch 2 x grad_accum 64, bf16 autocast) from a random init for `--steps`
optimizer steps. Prints one JSON document: samples/s after the first `--skip` steps, achieved
TFLOP/s from an analytic FLOP count (3x the forward: forward + backward), the device's measured bf16
matmul peak and the fraction of it, and the loss at the first and last steps.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.device import device_name
from stickeval.text import get_encoder
from stickeval.throughput import measure_peak_tflops
from stickeval.train import load_recipe, train
from stickeval.zoo.model import ACTION_EMBED_DIM, PHYSICS_DIM


def training_flops_per_sample(recipe, frames: int) -> float:
    """FLOPs (2 per multiply-add) of one training sample: 3 x forward (backward = 2 x forward).

    Forward on S = frames - 1 input frames plus the text token (n = S + 1 tokens): per frame token the
    motion embedding, action projection, every layer's projections and SwiGLU (2·16·D² per layer) and
    the pose, action and physics heads; per layer 4·n²·D for attention; the text projection once.
    """
    m = recipe.model
    D, L, S = m.d_model, m.num_layers, frames - 1
    n = S + 1
    per_frame = 2 * (
        m.input_dim * D // 2
        + D // 2 * D
        + ACTION_EMBED_DIM * D
        + D * D // 2
        + D // 2 * m.output_dim
        + D * D // 2
        + D // 2 * m.num_actions
        + D * D // 2
        + D // 2 * PHYSICS_DIM
    )
    layers = L * (n * 2 * 16 * D * D + 4 * n * n * D)
    text = 2 * (m.embedding_dim * 2 * D + 2 * D * D)
    return 3.0 * (S * per_frame + layers + text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--skip", type=int, default=10, help="steps left out of the throughput (warm-up)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="recipe override, e.g. schedule.batch_size=64 (with grad_accum=2: the same global batch)",
    )
    args = parser.parse_args()
    device = torch.device("cuda")
    work = Path(tempfile.mkdtemp())
    suite = load_suite("standard", split="train")
    data = work / "stickbench_standard_train.pt"
    save_dataset(suite_to_samples(suite, get_encoder("hash", dim=1024).encode(list(suite.prompts))), data)
    recipe = load_recipe("sft-large", ['model.init_from=""', "run.save_every=0", "run.log_every=1", *args.set])
    times, losses = {}, {}

    def on_event(event) -> None:
        if event.kind == "step":
            torch.cuda.synchronize()
            times[event.step], losses[event.step] = time.perf_counter(), event.values["loss"]

    result = train(recipe, work / "run", data_path=data, max_steps=args.steps, device="cuda", callback=on_event)
    global_batch = recipe.schedule.batch_size * recipe.schedule.grad_accum
    measured = sorted(times)[args.skip :]
    seconds = times[measured[-1]] - times[measured[0]]
    samples_per_s = (len(measured) - 1) * global_batch / seconds
    flops = training_flops_per_sample(recipe, recipe.data.n_frames)
    tflops = samples_per_s * flops / 1e12
    peak = measure_peak_tflops(device, torch.bfloat16)
    report = {
        "device": device_name(device),
        "torch": torch.__version__,
        "recipe": recipe.name,
        "overrides": args.set,
        "micro_batch": recipe.schedule.batch_size,
        "n_train": result.n_train,
        "steps": result.steps,
        "global_batch": global_batch,
        "samples_per_s": samples_per_s,
        "flops_per_sample": flops,
        "achieved_tflops": tflops,
        "peak_bf16_tflops": peak,
        "fraction_of_peak": tflops / peak,
        "loss_first": losses[min(losses)],
        "loss_last": losses[max(losses)],
        "loss_first10_mean": sum(losses[s] for s in sorted(losses)[:10]) / 10,
        "loss_last10_mean": sum(losses[s] for s in sorted(losses)[-10:]) / 10,
        "val_losses": result.val_losses,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
