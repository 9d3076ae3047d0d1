"""The inference engine's fused encoder layers: the same function, fewer trips through GPU memory.

`fuse(model)` swaps each EncoderLayer of an eval-mode model for a `FusedEncoderLayer` that runs
its four GEMMs through `kernels.fused_linear` (RMSNorm, bias, SwiGLU and the residual add done
inside the GEMM), and its attention through the unfused layer's own `attend` (RoPE, masks, KV
cache, scaled-dot-product attention), so every `encode`/`forward` option keeps working.

Used for generation and the teacher-forced pass on CUDA in bf16/fp16 (`fusion_available`); the
golden and batch-size contracts are checked in float32 on the unfused model, and the fused one
against it on the GPU (`tests/zoo/test_fused.py`, `-m gpu`).
"""

from __future__ import annotations

import copy
import importlib.util

import torch
from torch import nn

from stickeval.zoo.model import EncoderLayer, KVCache, StickFigureTransformer


def fusion_available(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether `fuse` can run here: CUDA, a 16-bit dtype, Triton, and torch's `triton_op` (torch >= 2.6)."""
    return (
        device.type == "cuda"
        and dtype in (torch.bfloat16, torch.float16)
        and importlib.util.find_spec("triton") is not None
        and hasattr(torch.library, "triton_op")
    )


class FusedEncoderLayer(nn.Module):
    """An EncoderLayer for inference, with the norms' weights folded into the projections after them.

    `rmsnorm(x) W^T = (x / rms(x)) (W diag(g))^T`: the norm weight g scales W's columns once here,
    and the kernel applies the per-row 1 / rms(x) to the accumulator.
    """

    def __init__(self, layer: EncoderLayer):
        super().__init__()
        attn, ffn = layer.self_attn, layer.ffn
        self.attention = attn  # `attend` and its RoPE buffer; its projections are folded below
        self.eps1, self.eps2 = layer.norm1.eps, layer.norm2.eps
        g1, g2 = layer.norm1.weight.detach(), layer.norm2.weight.detach()
        qkv = [attn.q_proj, attn.k_proj, attn.v_proj]
        self.register_buffer("qkv_weight", torch.cat([p.weight.detach() * g1 for p in qkv]).contiguous())
        self.register_buffer("qkv_bias", torch.cat([p.bias.detach() for p in qkv]))
        self.register_buffer("out_weight", attn.out_proj.weight.detach().contiguous())
        self.register_buffer("out_bias", attn.out_proj.bias.detach())
        gate_value = [ffn.gate_proj.weight.detach() * g2, ffn.value_proj.weight.detach() * g2]
        self.register_buffer("gate_value_weight", torch.cat(gate_value).contiguous())
        self.register_buffer("ffn_out_weight", ffn.output_proj.weight.detach().contiguous())

    def forward(
        self,
        x: torch.Tensor,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        last_only: bool = False,
        cache: KVCache | None = None,
        start: int = 0,
    ) -> torch.Tensor:
        """EncoderLayer.forward's function (inference: no dropout)."""
        from stickeval.zoo.kernels import fused_linear

        B, S, D = x.shape
        flat = x.reshape(B * S, D)
        if last_only:
            last = x[:, -1]  # (B, D), rows S * D apart
            q = fused_linear(last, self.qkv_weight[:D], self.qkv_bias[:D], None, self.eps1).view(B, 1, D)
            kv = fused_linear(flat, self.qkv_weight[D:], self.qkv_bias[D:], None, self.eps1).view(B, S, 2 * D)
            k, v = kv.split(D, dim=-1)
            residual = last
        else:
            q, k, v = fused_linear(flat, self.qkv_weight, self.qkv_bias, None, self.eps1).view(B, S, 3 * D).split(D, dim=-1)
            residual = flat
        y = self.attention.attend(q, k, v, causal=causal, key_padding_mask=key_padding_mask, cache=cache, start=start)
        Sq = y.shape[1]
        x = fused_linear(y.reshape(B * Sq, D), self.out_weight, self.out_bias, residual)
        hidden = fused_linear(x, self.gate_value_weight, None, None, self.eps2, True)
        x = fused_linear(hidden, self.ffn_out_weight, None, x)
        return x.view(B, Sq, D)


def fuse(model: StickFigureTransformer) -> StickFigureTransformer:
    """A copy of an eval-mode model whose encoder layers are `FusedEncoderLayer`s (inference only).

    Raises:
        ValueError: the model is in training mode (the fused layers have no dropout and no backward).
    """
    if model.training:
        raise ValueError("fuse() builds an inference engine; call model.eval() first.")
    fused = copy.deepcopy(model)
    layers = fused.transformer_encoder.layers
    for i, layer in enumerate(layers):
        layers[i] = FusedEncoderLayer(layer)
    return fused
