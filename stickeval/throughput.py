"""Generation throughput: sequences/s, achieved FLOP/s, and the fraction of the device's peak.

FLOPs are counted analytically for the exact procedure as specified (every step runs every layer
on the whole prefix, text token included), the count behind the physical limit in docs/benchmarks.md; the
last-layer shortcut is an optimisation that beats this count, not a change to it. The original
per-prompt fp32 loop is timed on a small sample in the same run, so the speed-up is measured, not
quoted.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from stickeval.device import cpu_budget, device_name, on_device, resolve_device, resolve_dtype, torch_threads
from stickeval.errors import GenerationInputError
from stickeval.generation import generate, resolve_batch_size
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters


def rollout_flops(config: ModelConfig, frames: int) -> float:
    """FLOPs (2 per multiply-add) of one exact rollout of `frames` frames.

    Step t (t = 1..frames-1) runs all layers on n = t + 1 tokens (text + t frames):
    per token and layer 2·(4·D² + 3·4·D²) for the projections and SwiGLU, plus 4·n·D for
    attention scores and weighted values; then the pose head on the last position.
    Embeddings are excluded (each frame is embedded once, a negligible share).
    """
    D, L = config.d_model, config.num_layers
    per_token_layer = 2 * (4 * D * D + 12 * D * D)
    pose_head = 2 * (D * (D // 2) + (D // 2) * config.output_dim)
    total = 0.0
    for t in range(1, frames):
        n = t + 1
        total += L * (n * per_token_layer + 4 * n * n * D) + pose_head
    return total


def measure_peak_tflops(device: torch.device, dtype: torch.dtype, size: int = 8192, repeats: int = 20) -> float:
    """Achieved TFLOP/s of a large square matmul: the device's practical ceiling for this dtype."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    seconds = _timed(lambda: [a @ b for _ in range(repeats)], device)
    return 2 * size**3 * repeats / seconds / 1e12


def _timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize(device)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(end) / 1e3
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def original_loop(model: StickFigureTransformer, text: torch.Tensor, actions: torch.Tensor, frames: int) -> torch.Tensor:
    """The original generator: one prompt, fp32, the full sequence-first forward on the growing prefix."""
    motion = torch.zeros(frames, 1, model.config.input_dim, device=text.device)
    with torch.no_grad():
        for t in range(1, frames):
            motion[t] = model(motion[:t], text[None], action_sequence=actions[:t, None])[-1]
    return motion[:, 0]


@dataclass
class BenchResult:
    """One `bench` measurement: what was timed, where, and the rates (written as JSON by the CLI)."""

    device: str
    dtype: str
    threads: int  # torch's CPU threads (`device.cpu_budget`)
    compile: bool | str
    frames: int
    n_prompts: int
    batch_size: int
    n_params: int
    sequences_per_second: float
    tflops: float
    peak_tflops: float | None
    fraction_of_peak: float | None
    gflop_per_sequence: float
    baseline_sequences_per_second: float
    baseline_prompts: int
    speedup: float
    torch_version: str
    host: str

    def to_dict(self) -> dict:
        return asdict(self)


def bench(
    model: StickFigureTransformer,
    *,
    frames: int = 250,
    n_prompts: int = 1024,
    batch_size: int | str = "auto",
    device: str | None = None,
    dtype: str | None = None,
    compile: bool | str = False,
    baseline_prompts: int = 2,
    measure_peak: bool = True,
    seed: int = 0,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> BenchResult:
    """Time batched generation after a warm-up, and the original loop on `baseline_prompts` prompts.

    Args:
        model: the model to time (left untouched; generation works on a copy).
        frames, n_prompts: rollout length and number of sequences timed.
        batch_size, device, dtype, compile: as `generate`.
        baseline_prompts: prompts timed with the original per-prompt fp32 loop (>= 1).
        measure_peak: also time a large matmul for the device's practical peak (CUDA only).
        seed: seed of the random inputs.
        threads: torch's CPU threads (`device.cpu_budget`: default OMP_NUM_THREADS, else all the
            CPUs of the process's affinity but one).
        progress: called with one line as each phase starts (a bench can take minutes).

    Returns:
        BenchResult (sequences/s, TFLOP/s, fraction of peak, the loop's rate and the ratio).

    Raises:
        GenerationInputError: bad sizes.
        DeviceError: a bad device, dtype, `threads` or OMP_NUM_THREADS.
    """
    if n_prompts < 1 or baseline_prompts < 1 or frames < 2:
        raise GenerationInputError(
            f"bench needs --prompts >= 1, --baseline-prompts >= 1 and --frames >= 2; got {n_prompts}, {baseline_prompts}, {frames}."
        )
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    n_threads = cpu_budget(threads)
    with torch_threads(n_threads):  # the original loop too: both rates on the same threads
        rng = np.random.default_rng(seed)
        c = model.config
        texts = rng.standard_normal((n_prompts, c.embedding_dim)).astype(np.float32)
        texts /= np.linalg.norm(texts, axis=1, keepdims=True)
        actions = rng.integers(0, c.num_actions, (n_prompts, frames))
        first = rng.standard_normal((n_prompts, c.input_dim)).astype(np.float32)
        say = progress or (lambda line: None)
        engine = on_device(model, dev, dt)  # one device copy for the warm-up and the timed pass
        batch = resolve_batch_size(engine, batch_size, n_prompts, frames)
        kwargs = dict(frames=frames, first_frames=first, batch_size=batch, device=dev, dtype=dt, compile=compile)
        say(f"warm-up: {n_prompts:,} prompts x {frames} frames, batch {batch} ({'compiling, ' if compile else ''}kernels, allocator)")
        generate(engine, texts, actions, **kwargs)
        say(f"timing: {n_prompts:,} prompts x {frames} frames")
        run = generate(engine, texts, actions, **kwargs)
        flops = rollout_flops(c, frames)
        tflops = flops * run.sequences_per_second / 1e12
        say(f"batched: {run.sequences_per_second:,.2f} sequences/s; timing the original fp32 loop on {baseline_prompts} prompt(s)")

        reference = on_device(model, dev, torch.float32)
        t_text = torch.as_tensor(texts[:baseline_prompts], device=dev)
        t_actions = torch.as_tensor(actions[:baseline_prompts], device=dev)
        original_loop(reference, t_text[0], t_actions[0], min(frames, 8))  # warm-up
        seconds = _timed(lambda: [original_loop(reference, t_text[i], t_actions[i], frames) for i in range(baseline_prompts)], dev)
        baseline = baseline_prompts / seconds

        if measure_peak and dev.type == "cuda":
            say("timing the device's peak: large matmuls")
        peak = measure_peak_tflops(dev, dt) if measure_peak and dev.type == "cuda" else None
        return BenchResult(
            device=device_name(dev),
            dtype=str(dt).removeprefix("torch."),
            threads=n_threads,
            compile=compile,
            frames=frames,
            n_prompts=n_prompts,
            batch_size=run.batch_size,
            n_params=count_parameters(model.config),
            sequences_per_second=run.sequences_per_second,
            tflops=tflops,
            peak_tflops=peak,
            fraction_of_peak=tflops / peak if peak else None,
            gflop_per_sequence=flops / 1e9,
            baseline_sequences_per_second=baseline,
            baseline_prompts=baseline_prompts,
            speedup=run.sequences_per_second / baseline,
            torch_version=torch.__version__,
            host=platform.node(),
        )
