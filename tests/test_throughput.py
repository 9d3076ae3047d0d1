"""Throughput measurement: the FLOP count against torch's own counter and the design's figure; `bench` on CPU."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from stickeval import zoo
from stickeval.errors import GenerationInputError
from stickeval.throughput import BenchResult, bench, rollout_flops
from stickeval.zoo.model import ModelConfig, StickFigureTransformer


def counted_rollout_flops(model: StickFigureTransformer, frames: int) -> int:
    """FLOPs torch's FlopCounterMode sees in the plain exact procedure, for what `rollout_flops` counts.

    Step t = 1..frames-1 encodes the whole prefix of n = t + 1 tokens through every layer (no
    last-layer shortcut), then runs the pose head on the last position. Attention goes through the
    math backend, whose matmuls the counter sees (the fused CPU kernel is invisible to it).
    """
    tokens = torch.randn(1, frames, model.config.d_model)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), counter:
        for n in range(2, frames + 1):
            hidden = model.encode(tokens[:, :n])
            model.pose_decoder(hidden[:, -1:])
    return counter.get_total_flops()


@pytest.mark.parametrize(
    "config, frames",
    [
        (ModelConfig(d_model=32, nhead=2, num_layers=2), 7),
        (ModelConfig(d_model=48, nhead=4, num_layers=1, input_dim=48, output_dim=48), 10),
    ],
)
def test_rollout_flops_equals_torchs_count_of_the_plain_procedure(config, frames):
    torch.manual_seed(0)
    model = StickFigureTransformer(config).eval()
    assert rollout_flops(config, frames) == counted_rollout_flops(model, frames)


def test_rollout_flops_of_large_at_250_frames_is_the_published_2_74_tflop():
    large = zoo.get_variant("large").model_config()
    # 31,374 token-forwards of ~84 MFLOP plus attention: about 2.7 TFLOP per 250-frame sequence (docs/benchmarks.md)
    assert rollout_flops(large, 250) == pytest.approx(2.74e12, rel=2e-3)


def test_bench_on_cpu_reports_finite_positive_rates_and_their_ratio():
    torch.manual_seed(0)
    model = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1))
    result = bench(model, frames=8, n_prompts=4, baseline_prompts=1, device="cpu")
    assert isinstance(result, BenchResult)
    for field in ("sequences_per_second", "tflops", "gflop_per_sequence", "baseline_sequences_per_second", "speedup"):
        value = getattr(result, field)
        assert math.isfinite(value) and value > 0, field
    assert result.speedup == pytest.approx(result.sequences_per_second / result.baseline_sequences_per_second)
    assert result.gflop_per_sequence == pytest.approx(rollout_flops(model.config, 8) / 1e9)
    assert result.tflops == pytest.approx(rollout_flops(model.config, 8) * result.sequences_per_second / 1e12)
    assert result.peak_tflops is None and result.fraction_of_peak is None  # no peak is measured on a CPU
    assert (result.dtype, result.frames, result.n_prompts, result.baseline_prompts) == ("float32", 8, 4, 1)
    assert result.n_params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kwargs", [{"baseline_prompts": 0}, {"n_prompts": 0}, {"frames": 1}])
def test_bench_refuses_sizes_it_cannot_time(kwargs):
    model = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1))
    with pytest.raises(GenerationInputError, match="bench needs"):
        bench(model, **{"frames": 8, "n_prompts": 2, "device": "cpu", **kwargs})


def test_bench_says_what_it_is_doing_before_each_phase():
    model = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1))
    lines = []
    result = bench(model, frames=8, n_prompts=4, baseline_prompts=1, device="cpu", progress=lines.append)
    assert [line.split(":")[0] for line in lines] == ["warm-up", "timing", "batched"]
    assert "4 prompts x 8 frames, batch 4" in lines[0]
    assert f"{result.sequences_per_second:,.2f} sequences/s" in lines[2] and "original fp32 loop on 1 prompt" in lines[2]
