"""Training speed: the model FLOPs of a training sample, and the rates a logged step reports.

The FLOPs are counted analytically (2 per multiply-add) for the model's own computation, as for
generation (`stickeval.throughput`): what the hardware did beyond that (recomputation, casts,
padding) is not counted, so achieved TFLOP/s over the device's measured matmul peak is the share of
the card the training used.
"""

from __future__ import annotations

from stickeval.zoo.model import ACTION_EMBED_DIM, PHYSICS_DIM, ModelConfig


def forward_flops_per_sample(config: ModelConfig, frames: int) -> float:
    """FLOPs of one teacher-forced forward of a `frames`-frame clip (S = frames - 1 input frames).

    Per frame token: the motion embedding, action projection and the pose, action and physics heads;
    per layer and token 2·16·D² (q, k, v, out and the SwiGLU), plus 4·n²·D for attention over the
    n = S + 1 tokens (text token included); the text projection once.
    """
    D, L, S = config.d_model, config.num_layers, frames - 1
    n = S + 1
    per_frame = 2 * (
        config.input_dim * D // 2
        + D // 2 * D
        + ACTION_EMBED_DIM * D
        + D * D // 2
        + D // 2 * config.output_dim
        + D * D // 2
        + D // 2 * config.num_actions
        + D * D // 2
        + D // 2 * PHYSICS_DIM
    )
    layers = L * (n * 2 * 16 * D * D + 4 * n * n * D)
    text = 2 * (config.embedding_dim * 2 * D + 2 * D * D)
    return float(S * per_frame + layers + text)


def training_flops_per_sample(config: ModelConfig, frames: int, *, self_fed: bool = False) -> float:
    """FLOPs of one training sample: forward + backward (2 x forward) = 3 x forward, plus one more
    forward when scheduled sampling feeds the model its own predictions (`self_fed`)."""
    return (4.0 if self_fed else 3.0) * forward_flops_per_sample(config, frames)


def step_rates(samples: int, seconds: float, flops_per_sample: float, peak_tflops: float | None, remaining_samples: int) -> dict:
    """What a logged step reports about speed, from the samples trained in the last `seconds`.

    Args:
        samples: samples trained since the previous logged step (all processes).
        seconds: wall time since then.
        flops_per_sample: `training_flops_per_sample`.
        peak_tflops: the measured peak of all the job's devices together; None where unknown (CPU).
        remaining_samples: samples still to train (for the ETA at this rate).

    Returns:
        `samples_per_s`, `tflops` (achieved), `fraction_of_peak` (None without a peak) and `eta_s`;
        every value None when no time has passed.
    """
    if seconds <= 0 or samples <= 0:
        return {"samples_per_s": None, "tflops": None, "fraction_of_peak": None, "eta_s": None}
    rate = samples / seconds
    tflops = rate * flops_per_sample / 1e12
    return {
        "samples_per_s": rate,
        "tflops": tflops,
        "fraction_of_peak": tflops / peak_tflops if peak_tflops else None,
        "eta_s": remaining_samples / rate,
    }
