"""Exact batched autoregressive generation: the original generator's procedure, many prompts at once.

The procedure (the original `InferenceGenerator.generate_with_actions`): frame 0 is given; for t = 1..T-1 the model runs on frames [0, t)
with actions [0, t) and its last position's pose becomes frame t. It is greedy and deterministic.
Attention is bidirectional, so an earlier frame's hidden state changes when a frame is appended:
there is no exact KV cache and every step re-encodes the prefix (cost ~ sum of prefix lengths).
What is reused exactly: each frame's input token (embedded once) and, for `causal=True` models,
keys and values (a KV cache). The last layer is computed at the last position only.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from stickeval.device import on_device, resolve_device, resolve_dtype
from stickeval.errors import GenerationInputError, NonFiniteOutputError
from stickeval.zoo.model import StickFigureTransformer

log = logging.getLogger(__name__)

# Attention without cuDNN's backend during generation: it builds an execution plan for every new
# (batch, prefix) shape, 249 per rollout: 17.5 s for large on an H200, against 0.2 s for flash
# attention at the same steady throughput (benchmarks/experiments/attention_backend.py, docs/benchmarks.md).
_ATTENTION_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]

Prime = Literal["reference", "zeros"]
PRIMES: tuple[str, ...] = ("reference", "zeros")


@dataclass
class Rollout:
    """Generated motion for N prompts.

    motion: float32 [N, T, D]; frame 0 is the prime.
    action_logits: float32 [N, T, A] when requested: row t is the action head's output in the
        step that generated frame t (row 0, the given prime, is zeros).
    seconds: wall-clock generation time.
    batch_size: prompts per forward pass actually used.
    """

    motion: np.ndarray
    action_logits: np.ndarray | None
    seconds: float
    batch_size: int

    @property
    def sequences_per_second(self) -> float:
        return len(self.motion) / self.seconds if self.seconds > 0 else float("inf")


def generate(
    model: StickFigureTransformer,
    text_embeddings: np.ndarray | torch.Tensor,
    action_tracks: np.ndarray | torch.Tensor,
    *,
    frames: int = 250,
    prime: Prime = "reference",
    first_frames: np.ndarray | torch.Tensor | None = None,
    batch_size: int | Literal["auto"] = "auto",
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
    return_action_logits: bool = False,
    compile: bool | str = False,
    progress: Callable[[int], None] | None = None,
) -> Rollout:
    """Generate `frames` frames for every prompt, exactly as the original loop does, in batches.

    Args:
        model: a StickFigureTransformer (any device; it is copied to `device`/`dtype` for generation,
            unless it is already there in eval mode: when calling repeatedly, pass
            `device.on_device(model, device, dtype)` so that the model is copied once).
        text_embeddings: float [N, E] sentence embeddings.
        action_tracks: int [N, >= frames - 1] action id per frame (frames [0, T-1) are used).
        frames: T, total frames including the prime (>= 2).
        prime: "reference" uses `first_frames` as frame 0; "zeros" starts from all zeros (the
            original generator's convention).
        first_frames: float [N, D] frame 0 of each prompt; required when prime="reference".
        batch_size: prompts per forward pass, or "auto" (`resolve_batch_size`: probed here, so pass
            the resolved number when calling repeatedly).
        device, dtype: default cuda + bfloat16 when available, else cpu + float32.
        return_action_logits: also keep the action head's logits of every step.
        compile: run each step through `torch.compile(dynamic=True)` (CUDA; worth it for large
            batches); a string is passed as torch.compile's `mode` (e.g. "max-autotune-no-cudagraphs").
        progress: called with the number of prompts finished after each batch.

    Returns:
        A Rollout with motion [N, T, D] float32. Results do not depend on batch_size beyond float
        rounding: each prompt's computation is independent of the others in its batch.

    Raises:
        GenerationInputError: inconsistent counts, wrong embedding or pose width, action id out of
            range, frames < 2, NaN/inf in the inputs, a missing `first_frames`, a bad batch size.
        NonFiniteOutputError: the model produced NaN/inf; names the prompt indices.
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    texts, actions, first = _validated_inputs(model, text_embeddings, action_tracks, frames, prime, first_frames)
    n = len(texts)
    engine = on_device(model, device, dtype)
    step = compiled_step(compile if isinstance(compile, str) else None) if compile else _step
    batch_size = resolve_batch_size(engine, batch_size, n, frames)
    motion = np.empty((n, frames, model.config.output_dim), dtype=np.float32)
    logits = np.zeros((n, frames, model.config.num_actions), dtype=np.float32) if return_action_logits else None
    # On CUDA a short last batch is padded with copies of its last row, so that every batch has one
    # shape: a new shape costs new kernel choices (and, with cuDNN attention, a plan per prefix
    # length: 346 rows after batches of 1,024 took 24 s instead of 3 s on an H200), and one shape
    # keeps bf16 rounding alike across batches.
    pad = device.type == "cuda" and n > batch_size
    started = time.perf_counter()
    with sdpa_kernel(_ATTENTION_BACKENDS):
        if isinstance(step, CompiledStep) and not model.config.causal:  # a causal model encodes with its KV cache
            step.tune(engine, min(batch_size, n), frames, device, dtype)
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            rows = torch.arange(lo, lo + batch_size if pad else hi).clamp(max=n - 1)
            m, lg = _rollout_batch(
                engine,
                step,
                texts[rows].to(device, dtype),
                actions[rows].to(device),
                first[rows].to(device, dtype),
                frames,
                return_action_logits,
            )
            motion[lo:hi] = m[: hi - lo].float().cpu().numpy()
            if logits is not None:
                logits[lo:hi, 1:] = lg[: hi - lo].float().cpu().numpy()
            if progress is not None:
                progress(hi - lo)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    bad = np.flatnonzero(~np.isfinite(motion).all(axis=(1, 2)))
    if len(bad):
        raise NonFiniteOutputError(bad.tolist())
    return Rollout(motion, logits, seconds, batch_size)


def resolve_batch_size(engine: StickFigureTransformer, batch_size: int | str, n: int, frames: int) -> int:
    """Prompts per forward pass for `n` prompts of `frames` frames on the engine's device: a positive
    integer as given, or for "auto" the largest power of two (at most 1,024 on CUDA, 64 on CPU, and
    at most n) whose full-length step fits in memory (probed on CUDA, halved on out-of-memory),
    then evened out over the batches that n needs (2,394 rows at 1,024 -> 3 batches of 798), so that
    every batch has the same shape (see `generate`).

    Raises:
        GenerationInputError: neither a positive integer nor "auto", or not one prompt fits in memory.
    """
    if batch_size != "auto":
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GenerationInputError(f"--batch-size must be a positive integer or 'auto', got {batch_size!r}.")
        return batch_size
    param = next(engine.parameters())
    device, dtype = param.device, param.dtype
    cap = 1024 if device.type == "cuda" else 64
    size = min(cap, 1 << max(0, (n - 1).bit_length()))
    if device.type != "cuda":
        return _even(min(size, n), n)
    while size >= 1:
        try:
            with torch.inference_mode():
                tokens = torch.zeros(size, frames + 1, engine.config.d_model, device=device, dtype=dtype)
                engine.encode(tokens, last_only=True)
            torch.cuda.synchronize(device)
            return _even(min(size, n), n)
        except torch.cuda.OutOfMemoryError:
            size //= 2
            torch.cuda.empty_cache()
    raise GenerationInputError("Not even one prompt fits in GPU memory at this length; use --device cpu or fewer --frames.")


def _even(size: int, n: int) -> int:
    """The smallest batch size that covers n rows in as many batches as `size` does."""
    batches = -(-n // size)
    return -(-n // batches)


def _step(model: StickFigureTransformer, prefix: torch.Tensor) -> torch.Tensor:
    """Hidden state (B, 1, D) of the last token of a bidirectional prefix (B, t + 1, D)."""
    return model.encode(prefix, last_only=True)


class CompiledStep:
    """`_step` with each encoder layer through `torch.compile(dynamic=True)` (the prefix length is
    marked dynamic, so the 249 lengths of a rollout share the graphs).

    Compiled per layer, not per step (torch's "regional compilation"): the layers differ only in
    their weights, which dynamo takes as graph inputs, so all of them share one graph and the last
    layer's last-position variant a second. For large on an H200 that cut the first call from 42 s
    to 19 s on a cold cache and from 14 s to 6 s on a warm one, at the same step time
    (benchmarks/experiments/compile_time.py, docs/benchmarks.md).
    """

    def __init__(self, mode: str | None = None):
        self._layer_step = torch.compile(_layer_step, dynamic=True, mode=mode)
        self._called: set[tuple[torch.device, torch.dtype]] = set()

    def __call__(self, model: StickFigureTransformer, prefix: torch.Tensor) -> torch.Tensor:
        self._called.add((prefix.device, prefix.dtype))
        layers = model.transformer_encoder.layers
        prefix = prefix.contiguous()  # a view of the token buffer; one layout for every layer's graph
        rope = layers[0].self_attn.rope.tables(prefix.shape[1], prefix.device, prefix.dtype)  # once for every layer, as `encode`
        for i, layer in enumerate(layers):
            prefix = self._layer_step(layer, prefix, model.config.causal, i == len(layers) - 1, rope)
        return prefix

    @torch.inference_mode()
    def tune(self, model: StickFigureTransformer, batch: int, frames: int, device: torch.device, dtype: torch.dtype) -> None:
        """Make the step's first call on this device and dtype a dummy one at the mean prefix of a
        `frames`-frame rollout (126 tokens for 250 frames); a no-op once it has been called there.

        Inductor picks each kernel's launch configuration by timing its candidates at the kernel's
        first call, and the winners at a rollout's first prefix (2 tokens) are slow at the lengths
        that make most of the work: large's SwiGLU kernel ran 1.54x slower at 126 tokens on an H200,
        the step 4% (docs/benchmarks.md). It runs in inference mode, as the rollout does; call it
        under the rollout's attention backends, so that the graphs it compiles are the rollout's."""
        length = frames // 2 + 1
        while length in (batch, model.config.d_model):  # equal sizes would share one symbol in the graph
            length += 1  # (dynamo's "duck sizing") and the rollout's other lengths would compile again
        tokens = torch.zeros(batch, length, model.config.d_model, device=device, dtype=dtype)
        if (tokens.device, tokens.dtype) not in self._called:
            self(model, tokens)


@functools.cache
def compiled_step(mode: str | None = None) -> CompiledStep:
    """The process's `CompiledStep` for this torch.compile mode, built once: every chunk of a run,
    every noise condition and every later run in the process reuse its compiled graphs."""
    return CompiledStep(mode)


def _layer_step(
    layer: torch.nn.Module, x: torch.Tensor, causal: bool, last_only: bool, rope: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """One encoder layer of `_step`: the unit that `compiled_step` compiles."""
    return layer(x, causal=causal, last_only=last_only, rope=rope)


@torch.inference_mode()
def _rollout_batch(
    model: StickFigureTransformer,
    step: Callable[[StickFigureTransformer, torch.Tensor], torch.Tensor],
    texts: torch.Tensor,
    actions: torch.Tensor,
    first: torch.Tensor,
    frames: int,
    keep_logits: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    B = texts.shape[0]
    tokens = torch.empty(B, frames + 1, model.config.d_model, device=texts.device, dtype=texts.dtype)
    motion = torch.empty(B, frames, model.config.output_dim, device=texts.device, dtype=texts.dtype)
    logits = torch.empty(B, frames - 1, model.config.num_actions, device=texts.device, dtype=texts.dtype) if keep_logits else None
    motion[:, 0] = first
    tokens[:, :1] = model.embed_text(texts)
    tokens[:, 1:2] = model.embed_frames(first[:, None], actions[:, :1])
    caches = model.new_caches(B, frames + 1, device=texts.device, dtype=texts.dtype) if model.config.causal else None
    for t in range(1, frames):
        # tokens [0, t] = text + frames [0, t); with a cache only the new token is encoded
        if caches is None:
            h = step(model, tokens[:, : t + 1])  # (B, 1, D)
        else:
            start = 0 if t == 1 else t
            h = model.encode(tokens[:, start : t + 1], last_only=True, caches=caches, start=start)
        pose = model.pose_decoder(h)[:, 0]
        motion[:, t] = pose
        if logits is not None:
            logits[:, t - 1] = model.action_predictor(h)[:, 0]
        if t + 1 < frames:
            tokens[:, t + 1 : t + 2] = model.embed_frames(pose[:, None], actions[:, t : t + 1])
    return motion, logits


def _validated_inputs(
    model: StickFigureTransformer,
    text_embeddings,
    action_tracks,
    frames: int,
    prime: str,
    first_frames,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check everything before any compute; return CPU tensors (float32 texts and frames, int64 actions)."""
    c = model.config
    if not isinstance(frames, int) or frames < 2:
        raise GenerationInputError(f"frames must be an integer >= 2 (frame 0 is given, frame 1 is the first generated); got {frames!r}.")
    texts = torch.as_tensor(np.asarray(text_embeddings), dtype=torch.float32)
    actions = torch.as_tensor(np.asarray(action_tracks)).long()
    if texts.ndim != 2 or texts.shape[1] != c.embedding_dim:
        raise GenerationInputError(
            f"text embeddings must be [N, {c.embedding_dim}] for this model, got {list(texts.shape)}. "
            "Check that the text encoder matches the variant."
        )
    n = len(texts)
    if n == 0:
        raise GenerationInputError("No prompts to generate for.")
    if actions.ndim != 2 or len(actions) != n:
        raise GenerationInputError(f"{n} prompts but action tracks of shape {list(actions.shape)}; expected [{n}, frames].")
    if actions.shape[1] < frames - 1:
        raise GenerationInputError(f"action tracks have {actions.shape[1]} frames; generating {frames} frames needs at least {frames - 1}.")
    bad_actions = (actions[:, : frames - 1] < 0) | (actions[:, : frames - 1] >= c.num_actions)
    if bad_actions.any():
        rows = torch.nonzero(bad_actions.any(dim=1)).flatten()[:5].tolist()
        raise GenerationInputError(f"action ids must be in [0, {c.num_actions}); prompts {rows} have ids outside.")
    if not torch.isfinite(texts).all():
        rows = torch.nonzero(~torch.isfinite(texts).all(dim=1)).flatten()[:5].tolist()
        raise GenerationInputError(f"text embeddings contain NaN/inf (prompts {rows}).")
    if prime == "zeros":
        first = torch.zeros(n, c.output_dim)
    elif prime == "reference":
        if first_frames is None:
            raise GenerationInputError("prime='reference' needs first_frames [N, D]; pass them or use prime='zeros'.")
        first = torch.as_tensor(np.asarray(first_frames), dtype=torch.float32)
        if first.shape != (n, c.input_dim):
            raise GenerationInputError(f"first_frames must be [{n}, {c.input_dim}] for this model, got {list(first.shape)}.")
        if not torch.isfinite(first).all():
            raise GenerationInputError("first_frames contain NaN/inf.")
    else:
        raise GenerationInputError(f"Unknown prime '{prime}'. Use {' or '.join(map(repr, PRIMES))}.")
    if c.input_dim != c.output_dim:
        raise GenerationInputError(f"Cannot roll out a model whose output ({c.output_dim}) is not its input ({c.input_dim}).")
    return texts, actions[:, : frames - 1].contiguous(), first


def teacher_forced(
    model: StickFigureTransformer,
    text_embeddings: np.ndarray,
    motion: np.ndarray,
    action_tracks: np.ndarray,
    *,
    batch_size: int = 64,
    device: str | torch.device | None = None,
    dtype: str | torch.dtype | None = None,
) -> np.ndarray:
    """One teacher-forced forward per clip, as the original evaluation: outputs on motion[:, :-1].

    `model` and `batch_size` as in `generate` (a prepared model is used as it is; a run passes the
    batch size it generates with).

    Returns float32 [N, T-1, D]; position t predicts frame t + 1 (with the true past, and through
    bidirectional attention the true future too: reported for comparison only).

    Raises:
        GenerationInputError: a bad batch size.
    """
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    engine = on_device(model, device, dtype)
    batch_size = resolve_batch_size(engine, batch_size, len(motion), motion.shape[1])
    out = np.empty((len(motion), motion.shape[1] - 1, model.config.output_dim), dtype=np.float32)
    with torch.inference_mode():
        for lo in range(0, len(motion), batch_size):
            sl = slice(lo, lo + batch_size)
            m = torch.as_tensor(motion[sl, :-1], device=device, dtype=dtype).transpose(0, 1)
            a = torch.as_tensor(action_tracks[sl, : motion.shape[1] - 1], device=device).long().transpose(0, 1)
            t = torch.as_tensor(text_embeddings[sl], device=device, dtype=dtype)
            out[sl] = engine(m, t, action_sequence=a).transpose(0, 1).float().cpu().numpy()
    return out
