"""Where a generation step's time goes on the GPU: top CUDA kernels for one mid-length step of large.

    python benchmarks/gpu_profile.py [--compile]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from stickeval.generation import _step
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

parser = argparse.ArgumentParser()
parser.add_argument("--compile", action="store_true")
parser.add_argument("--batch", type=int, default=1024)
parser.add_argument("--length", type=int, default=126)  # the mean prefix of a 250-frame rollout
args = parser.parse_args()

model = StickFigureTransformer(ModelConfig(d_model=512, nhead=16, num_layers=10)).cuda().to(torch.bfloat16).eval()
step = torch.compile(_step, dynamic=True) if args.compile else _step
x = torch.randn(args.batch, args.length, 512, device="cuda", dtype=torch.bfloat16)
with torch.inference_mode():
    for n in (args.length - 2, args.length - 1, args.length):
        step(model, x[:, :n])  # warm-up (and compile for several lengths)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            step(model, x)
        torch.cuda.synchronize()
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=18, max_name_column_width=60))
