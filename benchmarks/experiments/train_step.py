"""Where sft-large's training step spends the GPU, compiled several ways, at the recipe's global batch.

    PYTHONPATH=. python benchmarks/experiments/train_step.py [--variants layers,step] [--profile] [--out FILE]

Each variant trains a fresh sft-large (random init, same seed) on random data of the published shape
(250 frames) with `stickeval.train.train_step` as the trainer calls it (bf16 autocast, fused AdamW,
one micro-batch of the whole global batch), and reports the median samples/s, TFLOP/s and share of
the measured bf16 peak over the timed steps, the first steps' wall time (compilation) and the loss:

    eager     nothing compiled
    layers    each encoder layer compiled in place (one graph shared by the layers)
    model     the whole model's forward compiled (`model.compile`), the loss eager
    step      the loss function, model forward included, compiled as one graph

and each with modifiers after a "+": `+cg` compiles in mode "reduce-overhead" (CUDA graphs), `+ma`
in "max-autotune-no-cudagraphs"; `+flash`, `+efficient`, `+cudnn` pick the attention kernel, `+torchattn` leaves the choice to torch
(cuDNN first), and without any of them the trainer's `TRAINING_ATTENTION` applies (to compare
attention kernels, run with TORCHINDUCTOR_FORCE_DISABLE_CACHES=1: inductor's cache key leaves the
choice out, so a graph compiled with one kernel is reused for another);
`+cd` turns on inductor's coordinate-descent tuning of its Triton kernels' block sizes, `+agg` its
aggressive fusion (nodes fused without a shared read);
`+rng` functionalizes the random ops (dropout masks recomputed in the backward from their seeds
instead of saved); `+ropebuf` serves the RoPE tables from a cache filled eagerly before the first
step, so the compiled graph reads them instead of computing a sine and a cosine per element;
`+noread` reads the losses only after the timed steps, not after each (as a run that logs every step);
`+fused` runs the SwiGLU's activation and dropout as `stickeval.train.swiglu.swiglu_dropout` (as the trainer
does on CUDA);
`+nodrop` sets every dropout to 0 (attention's included: what dropout costs), `+noattndrop` only
attention's.
Rates are over the timed steps together (one wait at each end).

--profile adds the top CUDA kernels of two steps per variant, grouped into GEMM, attention, Triton
(fused elementwise) and other (eager elementwise) kernels.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import ProfilerActivity, profile

from stickeval.throughput import measure_peak_tflops
from stickeval.train import load_recipe
from stickeval.train.execution import training_kernels
from stickeval.train.objective import compute_loss, make_batch
from stickeval.train.speed import training_flops_per_sample
from stickeval.train.swiglu import fuse_swiglu
from stickeval.train.trainer import build_model, train_step
from stickeval.zoo.model import RoPEMultiheadAttention, RotaryEmbedding

FRAMES = 250


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_split(n: int, config, device: torch.device) -> dict:
    g = torch.Generator().manual_seed(0)
    data = {
        "motion": torch.randn(n, FRAMES, config.input_dim, generator=g),
        "embedding": torch.randn(n, config.embedding_dim, generator=g),
        "actions": torch.randint(0, config.num_actions, (n, FRAMES), generator=g),
        "physics": torch.randn(n, FRAMES, 6, generator=g),
        "gravity_scale": torch.ones(n),
    }
    return {k: v.to(device) for k, v in data.items()}


def on_gpu(args) -> bool:
    return args.device == "cuda"


MODES = {"cg": "reduce-overhead", "ma": "max-autotune-no-cudagraphs"}
BACKENDS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def prepare(variant: str, model) -> callable:
    """The loss function the step calls, after compiling what the variant compiles."""
    base, *modifiers = variant.split("+")
    mode = next((MODES[m] for m in modifiers if m in MODES), None)
    if base == "layers":  # regional compilation: the layers share one graph
        for layer in model.transformer_encoder.layers:
            layer.compile(dynamic=False, mode=mode)
    elif base == "model":
        model.compile(dynamic=False, mode=mode)
    elif base == "step":
        return torch.compile(compute_loss, dynamic=False, mode=mode)
    return compute_loss


def attention(variant: str):
    """The attention kernels the variant names; torch's own choice for `+torchattn`; else the trainer's."""
    modifiers = variant.split("+")[1:]
    chosen = [BACKENDS[m] for m in modifiers if m in BACKENDS]
    if chosen:
        return sdpa_kernel(chosen)
    return contextlib.nullcontext() if "torchattn" in modifiers else training_kernels("cuda")


@contextlib.contextmanager
def global_settings(variant: str):
    """The variant's process-wide switches, set for its whole run (compilation included), then restored."""
    modifiers = variant.split("+")[1:]
    tables = RotaryEmbedding.tables
    with (
        torch._inductor.config.patch(coordinate_descent_tuning="cd" in modifiers, aggressive_fusion="agg" in modifiers),
        torch._functorch.config.patch(functionalize_rng_ops="rng" in modifiers),
    ):
        try:
            if "ropebuf" in modifiers:
                RotaryEmbedding.tables = cached_tables(tables)
            yield
        finally:
            RotaryEmbedding.tables = tables


def cached_tables(tables):
    """`RotaryEmbedding.tables` answered from a cache that eager calls fill (the model's first, eager forward)."""
    cache = {}

    def cached(self, seq_len, device, dtype):
        key = (seq_len, str(device), dtype)
        if key not in cache:
            cache[key] = tables(self, seq_len, device, dtype)
        return cache[key]

    return cached


def category(name: str) -> str:
    low = name.lower()
    if "flash" in low or "fmha" in low or "attention" in low or "cudnn" in low and "sdpa" in low:
        return "attention"
    if "gemm" in low or "sm90_xmma" in low or "cutlass" in low or "nvjet" in low or "matmul" in low:
        return "gemm"
    if "triton" in low:
        return "triton"
    return "other"


def run(variant: str, args, peak: float) -> dict:
    torch._dynamo.reset()
    torch.manual_seed(0)
    recipe = load_recipe("sft-large", ['model.init_from=""'])
    device = torch.device(args.device)
    model = build_model(recipe).to(device).train()
    config = model.config
    split = random_split(args.batch * 2, config, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    if "ropebuf" in variant.split("+"):  # fill the table cache eagerly, outside any compiled graph
        with torch.no_grad():
            model.encode(torch.zeros(1, FRAMES, config.d_model, device=device))
    modifiers = variant.split("+")[1:]
    if "fused" in modifiers:
        fuse_swiglu(model)
    for module in model.modules():
        if "nodrop" in modifiers and isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if ("nodrop" in modifiers or "noattndrop" in modifiers) and isinstance(module, RoPEMultiheadAttention):
            module.dropout = 0.0
    loss_fn = prepare(variant, model)
    flops = training_flops_per_sample(config, FRAMES)
    weights = recipe.loss_weights()

    def step(i: int):
        index = torch.arange(args.batch, device=device) + (i % 2) * args.batch
        batch = make_batch(split, index, device)
        autocast_dtype = torch.bfloat16 if device.type == "cuda" else None
        return train_step(model, optimizer, [batch], weights, autocast_dtype=autocast_dtype, loss_fn=loss_fn)

    read_each = "noread" not in variant.split("+")
    began = time.perf_counter()
    losses = []
    with attention(variant):
        for i in range(args.warmup):
            losses.append(float(step(i).read()[0]["total"]))
        warm_s = time.perf_counter() - began
        sync(device)
        t0 = time.perf_counter()
        results = []
        for i in range(args.steps):
            results.append(step(i))
            if read_each:
                results[-1].read()
        sync(device)
        elapsed = time.perf_counter() - t0
    losses += [float(r.read()[0]["total"]) for r in results]
    rate = args.batch * args.steps / elapsed
    row = {
        "variant": variant,
        "batch": args.batch,
        "warmup_s": warm_s,
        "samples_per_s": rate,
        "tflops": rate * flops / 1e12,
        "fraction_of_peak": rate * flops / 1e12 / peak,
        "max_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if on_gpu(args) else 0.0,
        "losses": losses,
    }
    if args.profile:
        with profile(activities=[ProfilerActivity.CUDA]) as prof, attention(variant):
            for i in range(2):
                step(i)
            torch.cuda.synchronize()
        events = [e for e in prof.key_averages() if e.device_time_total > 0]
        total = sum(e.self_device_time_total for e in events)
        by_category: dict[str, float] = {}
        for e in events:
            by_category[category(e.key)] = by_category.get(category(e.key), 0.0) + e.self_device_time_total
        top = sorted(events, key=lambda e: -e.self_device_time_total)[:25]
        row["gpu_busy_ms_per_step"] = total / 2 / 1e3
        row["step_ms"] = elapsed / args.steps * 1e3
        row["by_category_share"] = {k: v / total for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])}
        row["top_kernels"] = [
            {"name": e.key[:120], "share": e.self_device_time_total / total, "calls_per_step": e.count / 2, "category": category(e.key)}
            for e in top
        ]
    if on_gpu(args):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="eager,layers,model,step", help="comma-separated, e.g. layers,step+cg,layers+flash")
    parser.add_argument("--batch", type=int, default=128, help="samples per step (the recipe's global batch)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--device", default="cuda", help="cpu: a dry run of the script (no peak, no profile)")
    args = parser.parse_args()
    peak = measure_peak_tflops(torch.device("cuda"), torch.bfloat16) if on_gpu(args) else float("inf")
    name = torch.cuda.get_device_name() if on_gpu(args) else "cpu"
    print(f"{name}, torch {torch.__version__}, bf16 peak {peak:.0f} TFLOP/s", flush=True)
    rows = []
    for variant in args.variants.split(","):
        with global_settings(variant):
            row = run(variant, args, peak)
        rows.append(row)
        print(
            f"{variant:8s} {row['samples_per_s']:7,.0f} samples/s {row['tflops']:6.1f} TFLOP/s {row['fraction_of_peak']:6.1%}"
            f"  first {args.warmup} steps {row['warmup_s']:5.0f} s  {row['max_memory_gib']:.1f} GiB"
            f"  loss {row['losses'][0]:.3f} -> {row['losses'][-1]:.3f}",
            flush=True,
        )
        if args.profile:
            print(f"  step {row['step_ms']:.1f} ms, GPU busy {row['gpu_busy_ms_per_step']:.1f} ms; {row['by_category_share']}")
            for k in row["top_kernels"][:12]:
                print(f"    {k['share']:6.1%} x{k['calls_per_step']:5.0f} {k['category']:9s} {k['name']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": name, "torch": torch.__version__, "peak": peak, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
