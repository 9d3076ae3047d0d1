"""The Stick-Gen text-to-motion transformer, all of it in this file.

Written afresh from the published description of `StickFigureTransformer` in
github.com/gestura-ai/stick-gen (`src/model/transformer.py`, commit 49d1d34) and checked against a
golden file produced by that code (max abs error < 1e-5 in float32): same module tree, same
state_dict key names and shapes, same sequence-first `forward`. It differs from the original where
the original is wrong or slow, never in the function it computes:

- RoPE tables are rebuilt from the `inv_freq` buffer on the input's device (the original cached
  them on the first device it saw, so `.to("cuda")` after a CPU call broke it);
- the residual stream is batch-first inside (the public API stays sequence-first), which lets
  attention hit the fused scaled-dot-product kernels;
- `causal=True` (stored in config.json, not a parameter) applies a causal mask, for models trained
  with a causal objective; the original is always bidirectional.

Projections that share an input (q/k/v, SwiGLU gate/value) run as one matmul over their
concatenated weights, but only while every one of them is a plain `nn.Linear` that nothing observes;
a forward or backward hook on any of them, or a wrapper in its place (a LoRA layer, a quantised
Linear), makes the model call each module, so the hook fires once per call and the wrapper takes
effect. RoPE runs in float32 for float32 and lower precisions, and in float64 for a float64 model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from stickeval.errors import ModelArgumentsError

ACTION_EMBED_DIM = 64  # width of the per-frame action embedding, fixed in the original
PHYSICS_DIM = 6  # (vx, vy, ax, ay, mx, my) per frame
ENVIRONMENT_DIM = 32  # pooled environment descriptor


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int = 20  # 20 = schema v1 (5 segments x 4); 48 = schema v3 (12 segments x 4)
    d_model: int = 384
    nhead: int = 12  # every published size has head_dim 32
    num_layers: int = 8
    output_dim: int = 20
    embedding_dim: int = 1024  # sentence embedding width (BAAI/bge-large-en-v1.5)
    num_actions: int = 64  # published configs say 64; the original train.py builds 46
    dropout: float = 0.1
    causal: bool = False  # the original attends bidirectionally

    @property
    def head_dim(self) -> int:
        return self.d_model // self.nhead

    def to_dict(self) -> dict:
        return asdict(self)


# The original constructor's keyword arguments and defaults (stick-gen at commit 59ba90a), so the
# published cards' `StickFigureTransformer(input_dim=20, d_model=512, ...)` runs unchanged. The class
# default num_actions=60 differs from ModelConfig's 64 (what the published configs use).
ORIGINAL_DEFAULTS: dict[str, Any] = {
    "input_dim": 20,
    "d_model": 384,
    "nhead": 12,
    "num_layers": 8,
    "output_dim": 20,
    "embedding_dim": 1024,
    "dropout": 0.1,
    "num_actions": 60,
}


def _config_from_arguments(config: ModelConfig | None, original_kwargs: dict[str, Any]) -> ModelConfig:
    """The ModelConfig for `StickFigureTransformer(config)` or `StickFigureTransformer(**original_kwargs)`.

    Raises:
        ModelArgumentsError: both forms at once, an unknown keyword, or a positional argument that is not a ModelConfig.
    """
    accepted = list(ORIGINAL_DEFAULTS)
    if config is not None and not isinstance(config, ModelConfig):
        raise ModelArgumentsError(f"StickFigureTransformer got a positional {type(config).__name__}.", accepted=accepted)
    if config is not None and original_kwargs:
        raise ModelArgumentsError(
            f"StickFigureTransformer got a ModelConfig and keyword arguments ({', '.join(sorted(original_kwargs))}).",
            accepted=accepted,
        )
    if config is not None:
        return config
    unknown = sorted(set(original_kwargs) - set(ORIGINAL_DEFAULTS))
    if unknown:
        listed = ", ".join(map(repr, unknown))
        raise ModelArgumentsError(f"StickFigureTransformer got unknown keyword argument(s) {listed}.", accepted=accepted, unknown=unknown)
    return ModelConfig(**{**ORIGINAL_DEFAULTS, **original_kwargs})


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight; no bias, no centring."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class RotaryEmbedding(nn.Module):
    """GPT-NeoX rotate-half RoPE, base 10000. `inv_freq` is persistent: it is in the original state_dict."""

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=True)

    def tables(self, seq_len: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (seq_len, head_dim) on `device`, in `rope_dtype(dtype)`."""
        compute = rope_dtype(dtype)
        t = torch.arange(seq_len, device=device, dtype=compute)
        freqs = torch.outer(t, self.inv_freq.to(device=device, dtype=compute))
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def rope_dtype(dtype: torch.dtype) -> torch.dtype:
    """The precision RoPE is computed in for activations of `dtype`: float64 for float64, else float32.

    Never lower than float32: in bfloat16 an angle near 200 radians rounds to a whole radian, so a
    half-precision model rotates in float32 and rounds the result once.
    """
    return torch.float64 if dtype == torch.float64 else torch.float32


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate (B, S, H, hd) by the tables (S, hd), computed in the tables' dtype, returned in x's dtype.

    The heads stay the second-to-last axis, the projections' own layout, so the rotation reads and
    writes contiguous memory; attention takes the (B, H, S, hd) view of the result.
    """
    xr = x.to(cos.dtype)
    x1, x2 = xr.chunk(2, dim=-1)
    rotated = torch.cat((-x2, x1), dim=-1)
    return (xr * cos[:, None] + rotated * sin[:, None]).to(x.dtype)


def _hooks_on_every_module() -> bool:
    """Whether a global module hook is registered (`torch.nn.modules.module.register_module_forward_hook` and kin)."""
    m = torch.nn.modules.module
    return bool(m._global_forward_hooks or m._global_forward_pre_hooks or m._global_backward_hooks or m._global_backward_pre_hooks)


def _is_plain_linear(layer: nn.Module) -> bool:
    """Whether calling `layer` computes F.linear(x, layer.weight, layer.bias) and nothing else: an nn.Linear
    (or a subclass that keeps its forward, as a parametrized one) with no hook of its own."""
    return type(layer).forward is nn.Linear.forward and not (
        layer._forward_hooks or layer._forward_pre_hooks or layer._backward_hooks or layer._backward_pre_hooks
    )


def _one_matmul(*layers: nn.Module) -> bool:
    """Whether `layers` may run as one matmul over their concatenated weights: every one a plain
    Linear, and no hook, of theirs or global, to miss the call."""
    return not _hooks_on_every_module() and all(_is_plain_linear(layer) for layer in layers)


def _project(x: torch.Tensor, *layers: nn.Module) -> tuple[torch.Tensor, ...]:
    """Apply each layer to the same input `x`, one output per layer.

    When every layer is a plain, unobserved Linear, one matmul over their concatenated weights (the
    weights stay separate modules and state_dict entries; the copy costs ~3 D^2 numbers per call,
    the activations S x B x D). Otherwise each module is called, so its hooks fire and a wrapper
    that replaced it (LoRA, quantisation) computes its own output.
    """
    if not _one_matmul(*layers):
        return tuple(layer(x) for layer in layers)
    weight = torch.cat([layer.weight for layer in layers])
    bias = None if layers[0].bias is None else torch.cat([layer.bias for layer in layers])
    return F.linear(x, weight, bias).split([layer.weight.shape[0] for layer in layers], dim=-1)


class KVCache:
    """Keys and values of every position seen so far, for exact incremental decoding of causal models."""

    def __init__(self, batch: int, nhead: int, max_len: int, head_dim: int, *, device, dtype):
        self.k = torch.empty(batch, nhead, max_len, head_dim, device=device, dtype=dtype)
        self.v = torch.empty_like(self.k)

    def update(self, k: torch.Tensor, v: torch.Tensor, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Store (B, H, s, hd) at positions [start, start + s) and return every position up to there."""
        end = start + k.shape[2]
        self.k[:, :, start:end] = k
        self.v[:, :, start:end] = v
        return self.k[:, :, :end], self.v[:, :, :end]


class RoPEMultiheadAttention(nn.Module):
    def __init__(self, d_model: int, nhead: int, dropout: float):
        super().__init__()
        self.nhead = nhead
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        self.rope = RotaryEmbedding(d_model // nhead)

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
        cache: KVCache | None = None,
        start: int = 0,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Self-attention over (B, S, D) tokens at positions [start, start + S).

        key_padding_mask: (B, S) bool, True where the key is padding (ignored).
        last_only: return only the last position's output (B, 1, D); every position still
            contributes keys and values, so the result equals the full computation's last row.
        cache: keys/values of positions [0, start) (causal models only); this call appends its own.
        rope: this module's `rope.tables(start + S, ...)`, when the caller has them already.
        """
        B, S, D = x.shape
        H, hd = self.nhead, D // self.nhead
        if last_only:
            q = self.q_proj(x[:, -1:])
            k, v = _project(x, self.k_proj, self.v_proj)
        else:
            q, k, v = _project(x, self.q_proj, self.k_proj, self.v_proj)
        Sq = q.shape[1]
        cos, sin = rope if rope is not None else self.rope.tables(start + S, x.device, x.dtype)
        q = apply_rope(q.view(B, Sq, H, hd), cos[start + S - Sq :], sin[start + S - Sq :]).transpose(1, 2)  # (B, H, Sq, hd)
        k = apply_rope(k.view(B, S, H, hd), cos[start:], sin[start:]).transpose(1, 2)  # (B, H, S, hd)
        v = v.view(B, S, H, hd).transpose(1, 2)
        if cache is not None:
            k, v = cache.update(k, v, start)
        mask, is_causal = None, False
        if key_padding_mask is not None:
            mask = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, S), True = attend
        if causal and Sq > 1:
            if mask is None and cache is None:
                is_causal = True  # the fused kernels' own causal path
            else:
                q_pos = torch.arange(start + S - Sq, start + S, device=x.device)
                allowed = torch.arange(k.shape[2], device=x.device)[None, :] <= q_pos[:, None]  # (Sq, K)
                mask = allowed if mask is None else mask & allowed
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal)
        return self.out_proj(y.transpose(1, 2).reshape(B, Sq, D))


class SwiGLU(nn.Module):
    """y = W_o dropout(silu(W_g x) * W_v x); hidden = 4 * d_model, no biases."""

    def __init__(self, d_model: int, hidden: int, dropout: float):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, hidden, bias=False)
        self.value_proj = nn.Linear(d_model, hidden, bias=False)
        self.output_proj = nn.Linear(hidden, d_model, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = _project(x, self.gate_proj, self.value_proj)
        return self.output_proj(self.dropout(F.silu(gate) * value))


class EncoderLayer(nn.Module):
    """Pre-norm block: x + dropout(attn(norm1(x))), then + ffn(norm2(x))."""

    def __init__(self, d_model: int, nhead: int, dropout: float):
        super().__init__()
        self.self_attn = RoPEMultiheadAttention(d_model, nhead, dropout)
        self.ffn = SwiGLU(d_model, 4 * d_model, dropout)
        self.norm1 = RMSNorm(d_model)
        self.norm2 = RMSNorm(d_model)
        self.dropout1 = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
        cache: KVCache | None = None,
        start: int = 0,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        attn = self.self_attn(
            self.norm1(x), causal=causal, key_padding_mask=key_padding_mask, last_only=last_only, cache=cache, start=start, rope=rope
        )
        x = (x[:, -1:] if last_only else x) + self.dropout1(attn)
        return x + self.ffn(self.norm2(x))


class TransformerEncoder(nn.Module):
    """A stack of layers under `.layers.{i}` (the original's nn.TransformerEncoder key layout), no final norm."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(config.d_model, config.nhead, config.dropout) for _ in range(config.num_layers))


def _head(d_in: int, d_hidden: int, d_out: int, dropout: float) -> nn.Sequential:
    # Linear, GELU, Dropout, Linear: indices 0 and 3 hold the weights, as in the original.
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_hidden, d_out))


def _embedding(d_in: int, hidden: int, d_model: int, dropout: float) -> nn.Sequential:
    # Linear, GELU, Linear, LayerNorm, Dropout (motion, camera and partner inputs).
    return nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, d_model), nn.LayerNorm(d_model), nn.Dropout(dropout))


class StickFigureTransformer(nn.Module):
    """Text embedding + motion prefix → next-frame poses, action logits and auxiliary heads.

    The text token is a prefix at RoPE position 0; frame j sits at position j + 1. Attention is
    bidirectional unless `config.causal`.

    Built from a `ModelConfig`, or from the original constructor's keywords (`ORIGINAL_DEFAULTS`,
    e.g. `StickFigureTransformer(input_dim=20, d_model=512, nhead=16, num_layers=10, num_actions=64)`,
    as the published model cards do); either way `self.config` is the ModelConfig.

    Raises:
        ModelArgumentsError: a ModelConfig and keywords together, or an unknown keyword.
    """

    def __init__(self, config: ModelConfig | None = None, **original_kwargs: Any):
        super().__init__()
        config = _config_from_arguments(config, original_kwargs)
        self.config = config
        self.name_or_path: str | None = None  # what `zoo.load` loaded; peft records it as its adapters' base model
        D, p = config.d_model, config.dropout
        self.text_projection = nn.Sequential(
            nn.Linear(config.embedding_dim, 2 * D),
            nn.GELU(),
            nn.Dropout(p),
            nn.Linear(2 * D, D),
            nn.LayerNorm(D),
            nn.Dropout(p),
        )
        self.motion_embedding = _embedding(config.input_dim, D // 2, D, p)
        self.action_embedding = nn.Embedding(config.num_actions, ACTION_EMBED_DIM)
        self.action_projection = nn.Sequential(nn.Linear(ACTION_EMBED_DIM, D), nn.LayerNorm(D), nn.Dropout(p))
        self.camera_projection = _embedding(3, D // 4, D, p)  # per-frame (x, y, zoom)
        self.partner_projection = _embedding(config.input_dim, D // 2, D, p)  # second actor's motion
        self.transformer_encoder = TransformerEncoder(config)
        self.pose_decoder = _head(D, D // 2, config.output_dim, p)
        self.position_decoder = _head(D, D // 4, 2, p)
        self.velocity_decoder = _head(D, D // 4, 2, p)
        self.action_predictor = _head(D, D // 2, config.num_actions, p)
        self.physics_decoder = _head(D, D // 2, PHYSICS_DIM, p)
        self.environment_decoder = _head(D, D // 2, ENVIRONMENT_DIM, p)
        for param in self.parameters():  # the original's init: xavier on every matrix
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def embed_text(self, text_embedding: torch.Tensor) -> torch.Tensor:
        """The prefix token (B, 1, D) from sentence embeddings (B, E)."""
        return self.text_projection(text_embedding).unsqueeze(1)

    def embed_frames(
        self,
        motion: torch.Tensor,
        action_sequence: torch.Tensor | None = None,
        camera_data: torch.Tensor | None = None,
        partner_motion: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Frame tokens (B, S, D) from batch-first motion (B, S, I) and optional per-frame inputs.

        Each frame's token depends on that frame only, so generation embeds each new frame once.
        """
        m = self.motion_embedding(motion)
        if action_sequence is not None:
            m = m + self.action_projection(self.action_embedding(action_sequence))
        if camera_data is not None:
            m = m + self.camera_projection(camera_data)
        if partner_motion is not None:
            m = m + self.partner_projection(partner_motion)
        return m

    def encode(
        self,
        x: torch.Tensor,
        *,
        key_padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
        caches: list[KVCache] | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        """Run the layers on tokens (B, S, D) at positions [start, start + S).

        last_only: the final layer computes only the last position (exact for that position).
        caches: one KVCache per layer, holding positions [0, start) (causal models only).

        The RoPE tables are computed once here for every layer (each layer's `inv_freq` buffer holds
        the same base-10000 frequencies), so a compiled layer reads them instead of recomputing a
        sine and a cosine for every element of its queries and keys.
        """
        layers = self.transformer_encoder.layers
        rope = layers[0].self_attn.rope.tables(start + x.shape[1], x.device, x.dtype) if len(layers) else None
        for i, layer in enumerate(layers):
            x = layer(
                x,
                causal=self.config.causal,
                key_padding_mask=key_padding_mask,
                last_only=last_only and i == len(layers) - 1,
                cache=None if caches is None else caches[i],
                start=start,
                rope=rope,
            )
        return x

    def new_caches(self, batch: int, max_len: int, *, device, dtype) -> list[KVCache]:
        """Empty KV caches for incremental decoding of up to `max_len` tokens."""
        if not self.config.causal:
            raise ValueError("A KV cache is exact only for causal models; this model attends bidirectionally.")
        c = self.config
        return [KVCache(batch, c.nhead, max_len, c.head_dim, device=device, dtype=dtype) for _ in range(c.num_layers)]

    def forward(
        self,
        motion: torch.Tensor,
        text_embedding: torch.Tensor,
        return_all_outputs: bool = False,
        action_sequence: torch.Tensor | None = None,
        camera_data: torch.Tensor | None = None,
        partner_motion: torch.Tensor | None = None,
    ) -> torch.Tensor | dict[str, torch.Tensor]:
        """Sequence-first, as the original.

        Args:
            motion: (S, B, input_dim) poses.
            text_embedding: (B, embedding_dim) sentence embeddings.
            return_all_outputs: return a dict of every head instead of the pose tensor.
            action_sequence: optional (S, B) int64 action ids per frame.
            camera_data: optional (S, B, 3).
            partner_motion: optional (S, B, input_dim).

        Returns:
            pose (S, B, output_dim), or a dict with `pose`, `action_logits` (S, B, A), `physics`
            (S, B, 6), and pooled `position` (B, 2), `velocity` (B, 2), `environment` (B, 32).
        """

        def batch_first(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.transpose(0, 1)

        frames = self.embed_frames(batch_first(motion), batch_first(action_sequence), batch_first(camera_data), batch_first(partner_motion))
        x = torch.cat([self.embed_text(text_embedding).to(frames.dtype), frames], dim=1)  # (B, S + 1, D)
        h = self.encode(x)[:, 1:]  # drop the text token: (B, S, D)
        pose = self.pose_decoder(h).transpose(0, 1)
        if not return_all_outputs:
            return pose
        pooled = h.mean(dim=1)
        return {
            "pose": pose,
            "position": self.position_decoder(pooled),
            "velocity": self.velocity_decoder(pooled),
            "action_logits": self.action_predictor(h).transpose(0, 1),
            "physics": self.physics_decoder(h).transpose(0, 1),
            "environment": self.environment_decoder(pooled),
        }


def count_parameters(config: ModelConfig) -> int:
    """Exact parameter count (buffers excluded) from the config alone, without building the model."""
    D, In, Out, E, A = config.d_model, config.input_dim, config.output_dim, config.embedding_dim, config.num_actions

    def linear(i: int, o: int, bias: bool = True) -> int:
        return i * o + (o if bias else 0)

    def embedding(d_in: int, hidden: int) -> int:
        return linear(d_in, hidden) + linear(hidden, D) + 2 * D

    def head(hidden: int, d_out: int) -> int:
        return linear(D, hidden) + linear(hidden, d_out)

    per_layer = 4 * linear(D, D) + 3 * linear(D, 4 * D, bias=False) + 2 * D
    return (
        linear(E, 2 * D)
        + linear(2 * D, D)
        + 2 * D  # text_projection
        + 2 * embedding(In, D // 2)
        + embedding(3, D // 4)  # motion, partner, camera
        + A * ACTION_EMBED_DIM
        + linear(ACTION_EMBED_DIM, D)
        + 2 * D  # action embedding + projection
        + config.num_layers * per_layer
        + head(D // 2, Out)
        + 2 * head(D // 4, 2)
        + head(D // 2, A)
        + head(D // 2, PHYSICS_DIM)
        + head(D // 2, ENVIRONMENT_DIM)
    )
