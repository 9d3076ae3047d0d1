"""Write a large-size Stick-Gen checkpoint with random weights (seed 0): what the GPU figures time.

    python benchmarks/gpu/large_random.py DIR

Speed does not depend on the weights' values, so the published size (d_model 512, 16 heads, 10
layers: 44.6M parameters) with random weights times the same work as the published checkpoint,
without a download. The hash text encoder is recorded, so `stickeval run DIR` needs no network.
"""

import sys

import torch

from stickeval.zoo import ModelConfig, StickFigureTransformer, save_checkpoint

LARGE = ModelConfig(d_model=512, nhead=16, num_layers=10)

torch.manual_seed(0)
save_checkpoint(StickFigureTransformer(LARGE), sys.argv[1], metadata={"encoder": "hash"})
