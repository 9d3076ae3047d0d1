"""The SwiGLU's activation and dropout as one operation, for training on CUDA.

`dropout(silu(gate) * value)` over the SwiGLU's hidden state (4 x d_model wide) is the costliest
elementwise work of sft-large's training step. Compiled by inductor it is one kernel each way, but
it draws a Philox-4x32-10 call per element (one word of four kept), writes a byte of mask per
element for the backward and reads it back. `swiglu_dropout` keeps all four words (four elements
per call), saves no mask and draws it again in the backward from its seed: a pass over the memory
each way, at memory speed (`swiglu_kernels`).

The same distribution as `nn.Dropout` in the SwiGLU: each element kept independently with
probability 1 - p (p as a multiple of 2^-32) and scaled by 1 / (1 - p); not the same draws (a
compiled step never draws what eager PyTorch draws). Each mask's seed comes from torch's generator
for the device, so a run is reproducible from its seed and resumes from its saved RNG state.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F
from torch import nn

from stickeval.zoo.model import SwiGLU, _one_matmul


def drop_threshold(p: float) -> int:
    """The 32-bit word below which an element is dropped: p as a multiple of 2^-32."""
    return min(round(p * 2**32), 2**32 - 1)


def _cpu_keep(shape: torch.Size, p: float, seed: torch.Tensor) -> torch.Tensor:
    """Off CUDA, the keep mask for `seed` from torch's own generator (the same distribution, other draws)."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(int(seed))) >= p


def _gate_value(gv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Off CUDA, `gv`'s two halves in the precision the op computes in (fp32, or fp64 for fp64)."""
    return gv.to(torch.promote_types(gv.dtype, torch.float32)).split(gv.shape[-1] // 2, dim=-1)


@torch.library.custom_op("stickeval::swiglu_dropout", mutates_args=())
def swiglu_dropout(gv: torch.Tensor, p: float, seed: torch.Tensor) -> torch.Tensor:
    """dropout(silu(gate) * value) with `gv` = [gate | value] on its last dimension (2 x hidden).

    Each element is kept with probability 1 - p and scaled by 1 / (1 - p); the mask is a function of
    `seed` (a one-element int64 tensor on `gv`'s device). Computed in fp32, returned in `gv`'s dtype.
    """
    gv = gv.contiguous()
    hidden = gv.shape[-1] // 2
    h = gv.new_empty(gv.shape[:-1] + (hidden,))
    if gv.device.type == "cuda":
        from stickeval.train import swiglu_kernels

        if h.numel():
            swiglu_kernels.forward(gv, h, seed, drop_threshold(p), 1.0 / (1.0 - p))
        return h
    gate, value = _gate_value(gv)
    h.copy_(torch.where(_cpu_keep(h.shape, p, seed), F.silu(gate) * value / (1.0 - p), 0.0))
    return h


@torch.library.custom_op("stickeval::swiglu_dropout_backward", mutates_args=())
def swiglu_dropout_backward(grad: torch.Tensor, gv: torch.Tensor, p: float, seed: torch.Tensor) -> torch.Tensor:
    """The gradient of `swiglu_dropout(gv, p, seed)` with respect to `gv`, for the output's gradient `grad`."""
    grad, gv = grad.contiguous(), gv.contiguous()
    dgv = torch.empty_like(gv)
    if gv.device.type == "cuda":
        from stickeval.train import swiglu_kernels

        if grad.numel():
            swiglu_kernels.backward(grad, gv, dgv, seed, drop_threshold(p), 1.0 / (1.0 - p))
        return dgv
    gate, value = _gate_value(gv)
    dh = torch.where(_cpu_keep(grad.shape, p, seed), grad.to(gate.dtype) / (1.0 - p), 0.0)
    sig = torch.sigmoid(gate)
    dgv.copy_(torch.cat([dh * value * sig * (1 + gate * (1 - sig)), dh * gate * sig], dim=-1))
    return dgv


@swiglu_dropout.register_fake
def _(gv: torch.Tensor, p: float, seed: torch.Tensor) -> torch.Tensor:
    return gv.new_empty(gv.shape[:-1] + (gv.shape[-1] // 2,))


@swiglu_dropout_backward.register_fake
def _(grad: torch.Tensor, gv: torch.Tensor, p: float, seed: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(gv, memory_format=torch.contiguous_format)


def _setup_context(ctx, inputs: tuple, output: torch.Tensor) -> None:
    gv, p, seed = inputs
    ctx.save_for_backward(gv, seed)
    ctx.p = p


def _backward(ctx, grad: torch.Tensor) -> tuple:
    gv, seed = ctx.saved_tensors
    return swiglu_dropout_backward(grad, gv, ctx.p, seed), None, None


swiglu_dropout.register_autograd(_backward, setup_context=_setup_context)


class FusedSwiGLU(SwiGLU):
    """A `SwiGLU` whose training forward on CUDA is one `swiglu_dropout` between the two projections:
    the same weights, state_dict keys and result distribution. In eval mode, off CUDA, or when a
    projection is wrapped or observed (LoRA, hooks), the SwiGLU's own forward runs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and x.is_cuda and _one_matmul(self.gate_proj, self.value_proj)):
            return super().forward(x)
        gv = F.linear(x, torch.cat([self.gate_proj.weight, self.value_proj.weight]))
        seed = torch.randint(0, 2**62, (1,), device=x.device)
        return self.output_proj(swiglu_dropout(gv, self.dropout.p, seed))


def fusable(device: torch.device) -> bool:
    """Whether `swiglu_dropout`'s kernels run on `device`: CUDA, with Triton installed (as with torch's
    Linux CUDA builds)."""
    return device.type == "cuda" and importlib.util.find_spec("triton") is not None


def fuse_swiglu(model: nn.Module) -> int:
    """Make every `SwiGLU` of `model` a `FusedSwiGLU`, in place; returns how many.

    Only the modules' class changes: they keep their weights, hooks and state_dict keys, and draw
    nothing from torch's generator in the change."""
    fused = 0
    for module in model.modules():
        if type(module) is SwiGLU:
            module.__class__ = FusedSwiGLU
            fused += 1
    return fused
