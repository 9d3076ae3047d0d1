"""Where a generation step's time goes on the GPU: top CUDA kernels of one step of large, and how
much of the step's wall time the GPU is busy (the rest is launch gaps, which CUDA graphs remove).

    PYTHONPATH=. python benchmarks/experiments/step_profile.py [--compile] [--whole] [--batch 1024] [--lengths 126,8]

--compile profiles the shipped step (`generation.compiled_step`: each encoder layer compiled);
--whole compiles the whole step instead, as before that change. The first call is at --first-length
(a rollout's first prefix by default), where inductor times its kernels' launch configurations; the
shipped step is tuned first at the mean prefix of a 250-frame rollout, as `generate` does.
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from stickeval.generation import _ATTENTION_BACKENDS, _step, compiled_step
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

parser = argparse.ArgumentParser()
parser.add_argument("--compile", action="store_true")
parser.add_argument("--whole", action="store_true", help="with --compile: torch.compile the whole step")
parser.add_argument("--batch", type=int, default=1024)
parser.add_argument("--lengths", default="126,8", help="prefix lengths to profile (126: the mean of a 250-frame rollout)")
parser.add_argument("--steps", type=int, default=5)
parser.add_argument("--first-length", type=int, default=2, help="prefix of the first call (a rollout's: 2), which tunes the kernels")
args = parser.parse_args()

model = StickFigureTransformer(ModelConfig(d_model=512, nhead=16, num_layers=10)).cuda().to(torch.bfloat16).eval()
if not args.compile:
    step = _step
else:
    step = torch.compile(_step, dynamic=True) if args.whole else compiled_step()
label = "eager" if not args.compile else "compiled, whole step" if args.whole else "compiled per layer (shipped)"
with torch.inference_mode(), torch.nn.attention.sdpa_kernel(_ATTENTION_BACKENDS):
    for length in map(int, args.lengths.split(",")):
        x = torch.randn(args.batch, length, 512, device="cuda", dtype=torch.bfloat16)
        if not args.whole and args.compile:
            step.tune(model, args.batch, 250, torch.device("cuda"), torch.bfloat16)  # as `generate` does
        for n in (args.first_length, length - 1, length):
            step(model, torch.randn(args.batch, n, 512, device="cuda", dtype=torch.bfloat16))  # compile and tune, warm up
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(args.steps):
            step(model, x)
        end.record()
        torch.cuda.synchronize()
        wall_ms = start.elapsed_time(end) / args.steps
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(args.steps):
                step(model, x)
            torch.cuda.synchronize()
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy_ms = sum(e.time_range.elapsed_us() for e in kernels) / 1000 / args.steps
        print(f"\n## {label}: batch {args.batch}, prefix {length}")
        print(
            f"step {wall_ms:.3f} ms wall (unprofiled), GPU busy {busy_ms:.3f} ms ({busy_ms / wall_ms:.1%}), "
            f"{len(kernels) / args.steps:.0f} kernels per step"
        )
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60))
