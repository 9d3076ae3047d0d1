"""What a new batch shape costs generation on CUDA, with and without cuDNN attention, in one call.

    PYTHONPATH=. python benchmarks/experiments/attention_backend.py

For the large size (random weights, bf16, eager, 250 frames): generates a batch of a shape not
seen before, then the same shape again; the difference is the per-shape cost (attention plans for
249 prefix lengths), the second call's rate the steady throughput. Once with torch's default
attention backends and once with cuDNN attention switched off (flash attention takes over).
"""

import json
import time

import numpy as np
import torch

from stickeval.generation import generate
from stickeval.zoo.model import ModelConfig, StickFigureTransformer


def timed(model, n: int) -> float:
    rng = np.random.default_rng(n)
    texts = rng.standard_normal((n, 1024)).astype(np.float32)
    actions = rng.integers(0, 64, (n, 250))
    first = rng.standard_normal((n, 20)).astype(np.float32)
    start = time.perf_counter()
    generate(model, texts, actions, frames=250, first_frames=first, batch_size=n, device="cuda", dtype="bfloat16")
    return time.perf_counter() - start


torch.manual_seed(0)
model = StickFigureTransformer(ModelConfig(d_model=512, nhead=16, num_layers=10)).cuda().to(torch.bfloat16).eval()
results = []
for cudnn, n in [(True, 256), (False, 288)]:
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    first, second = timed(model, n), timed(model, n)
    results.append(
        {
            "cudnn_attention": cudnn,
            "rows": n,
            "first_call_s": first,
            "second_call_s": second,
            "per_shape_cost_s": first - second,
            "steady_seq_per_s": n / second,
        }
    )
    print(json.dumps(results[-1]))
