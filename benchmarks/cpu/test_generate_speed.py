"""CPU generation and scoring speed: batched `generate` against the original per-prompt loop, and `score`.

    make bench     # or: .venv/bin/python -m pytest benchmarks/cpu/test_generate_speed.py --benchmark-enable

A tiny model (tests.fixtures.checkpoints.TINY_CONFIG, ~98k parameters) with random weights (speed does
not depend on their values), fp32, torch's default CPU threads. Batched: 16 prompts x 64 frames
in one call; the original loop: 1 prompt x 64 frames, the full sequence-first forward on the
growing prefix. Scoring: `score` of a cached 4-prompt quick-suite run (42 rollouts of 250 frames,
every metric with 1,000-resample bootstrap CIs), without the model.
"""

import time

import numpy as np
import pytest
import torch

from stickeval import zoo
from stickeval.evaluation.run import RunSettings, evaluate, score
from stickeval.generation import generate
from stickeval.throughput import original_loop, rollout_flops
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.fixtures.checkpoints import TINY_CONFIG, build_tiny_checkpoint

N_PROMPTS = 16
FRAMES = 64


@pytest.fixture(scope="module")
def model() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(**TINY_CONFIG)).eval()


@pytest.fixture(scope="module")
def prompts(model) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit-norm text embeddings [N, E], action tracks [N, FRAMES], first frames [N, D]."""
    rng = np.random.default_rng(0)
    c = model.config
    texts = rng.standard_normal((N_PROMPTS, c.embedding_dim)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    return texts, rng.integers(0, c.num_actions, (N_PROMPTS, FRAMES)), rng.standard_normal((N_PROMPTS, c.input_dim)).astype(np.float32)


def _loop_sequences_per_second(model, texts, actions, rounds: int = 3) -> float:
    """The original loop's best-of-`rounds` rate on one prompt."""
    text, track = torch.as_tensor(texts[0]), torch.as_tensor(actions[0])
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        original_loop(model, text, track, FRAMES)
        best = min(best, time.perf_counter() - start)
    return 1 / best


@pytest.mark.benchmark(group="generate-64-frames")
def test_batched_generation_of_16_prompts_beats_the_original_loop_per_sequence(benchmark, model, prompts):
    texts, actions, first = prompts
    rollout = benchmark.pedantic(
        generate,
        args=(model, texts, actions),
        kwargs={"frames": FRAMES, "first_frames": first, "batch_size": N_PROMPTS, "device": "cpu"},
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
    assert rollout.motion.shape == (N_PROMPTS, FRAMES, model.config.output_dim)
    if benchmark.stats is None:  # --benchmark-disable: the code ran once, untimed
        return
    rate = N_PROMPTS / benchmark.stats.stats.min
    loop_rate = _loop_sequences_per_second(model, texts, actions)
    benchmark.extra_info.update(
        sequences_per_s=round(rate, 1),
        gflop_per_s=round(rollout_flops(model.config, FRAMES) * rate / 1e9, 2),
        original_loop_sequences_per_s=round(loop_rate, 1),
        speedup=round(rate / loop_rate, 1),
    )
    assert rate > loop_rate


@pytest.mark.benchmark(group="generate-64-frames")
def test_original_loop_on_one_prompt(benchmark, model, prompts):
    texts, actions, _ = prompts
    motion = benchmark.pedantic(
        original_loop,
        args=(model, torch.as_tensor(texts[0]), torch.as_tensor(actions[0]), FRAMES),
        rounds=5,
        iterations=1,
        warmup_rounds=1,
    )
    assert motion.shape == (FRAMES, model.config.output_dim) and torch.isfinite(motion).all()
    if benchmark.stats is None:  # --benchmark-disable: the code ran once, untimed
        return
    benchmark.extra_info["sequences_per_s"] = round(1 / benchmark.stats.stats.min, 1)


@pytest.fixture(scope="module")
def cached_run(tmp_path_factory):
    """A run directory with every generation cached (and its classifier fitted into a private cache)."""
    ckpt = build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), metadata={"encoder": "hash"})
    out = tmp_path_factory.mktemp("run")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STICKEVAL_CACHE", str(tmp_path_factory.mktemp("stickeval-cache")))
        evaluate(zoo.load(str(ckpt)), RunSettings(limit=4, noise_prompts=2), out)
        yield out


@pytest.mark.benchmark(group="score")
def test_score_of_a_cached_4_prompt_quick_run(benchmark, cached_run):
    results = benchmark.pedantic(score, args=(cached_run,), rounds=3, iterations=1)
    assert results["config"]["rows"] == 42 and results["timing"]["rows_generated_now"] == 42
    if benchmark.stats is None:  # --benchmark-disable: the code ran once, untimed
        return
    benchmark.extra_info["seconds"] = round(benchmark.stats.stats.min, 2)
