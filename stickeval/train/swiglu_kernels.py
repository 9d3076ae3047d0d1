"""The CUDA kernels behind `stickeval.train.swiglu`: `dropout(silu(gate) * value)`, forward and
backward, each one pass over memory with the dropout mask drawn in place, four elements per
Philox-4x32-10 call, and drawn again in the backward from its seed instead of saved.

Imported only when a CUDA tensor needs them: Triton ships with CUDA builds of torch only.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

LANES = 1024  # Philox calls per program; each program covers 4 * LANES elements of the hidden state


@triton.jit
def _keep(seed_ptr, pid, threshold, LANES: tl.constexpr):
    """The four keep masks of a program's four quarters: a 32-bit word per element, kept when >= threshold."""
    r0, r1, r2, r3 = tl.randint4x(tl.load(seed_ptr), pid * LANES + tl.arange(0, LANES))
    t = threshold.to(tl.uint32)
    return r0 >= t, r1 >= t, r2 >= t, r3 >= t


@triton.jit
def _forward_quarter(gv_ptr, h_ptr, e, keep, n, hidden, scale):
    row, col = e // hidden, e % hidden
    inside = e < n
    g = tl.load(gv_ptr + row * (2 * hidden) + col, mask=inside, other=0.0).to(tl.float32)
    v = tl.load(gv_ptr + row * (2 * hidden) + hidden + col, mask=inside, other=0.0).to(tl.float32)
    h = tl.where(keep, g * tl.sigmoid(g) * v * scale, 0.0)
    tl.store(h_ptr + e, h.to(h_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _forward_kernel(gv_ptr, h_ptr, seed_ptr, n, hidden, threshold, scale, LANES: tl.constexpr):
    pid = tl.program_id(0)
    k0, k1, k2, k3 = _keep(seed_ptr, pid, threshold, LANES)
    e = pid.to(tl.int64) * (4 * LANES) + tl.arange(0, LANES)
    _forward_quarter(gv_ptr, h_ptr, e, k0, n, hidden, scale)
    _forward_quarter(gv_ptr, h_ptr, e + LANES, k1, n, hidden, scale)
    _forward_quarter(gv_ptr, h_ptr, e + 2 * LANES, k2, n, hidden, scale)
    _forward_quarter(gv_ptr, h_ptr, e + 3 * LANES, k3, n, hidden, scale)


@triton.jit
def _backward_quarter(grad_ptr, gv_ptr, dgv_ptr, e, keep, n, hidden, scale):
    row, col = e // hidden, e % hidden
    inside = e < n
    g = tl.load(gv_ptr + row * (2 * hidden) + col, mask=inside, other=0.0).to(tl.float32)
    v = tl.load(gv_ptr + row * (2 * hidden) + hidden + col, mask=inside, other=0.0).to(tl.float32)
    dh = tl.where(keep, tl.load(grad_ptr + e, mask=inside, other=0.0).to(tl.float32) * scale, 0.0)
    sig = tl.sigmoid(g)
    dg = dh * v * sig * (1.0 + g * (1.0 - sig))
    dv = dh * g * sig
    tl.store(dgv_ptr + row * (2 * hidden) + col, dg.to(dgv_ptr.dtype.element_ty), mask=inside)
    tl.store(dgv_ptr + row * (2 * hidden) + hidden + col, dv.to(dgv_ptr.dtype.element_ty), mask=inside)


@triton.jit
def _backward_kernel(grad_ptr, gv_ptr, dgv_ptr, seed_ptr, n, hidden, threshold, scale, LANES: tl.constexpr):
    pid = tl.program_id(0)
    k0, k1, k2, k3 = _keep(seed_ptr, pid, threshold, LANES)
    e = pid.to(tl.int64) * (4 * LANES) + tl.arange(0, LANES)
    _backward_quarter(grad_ptr, gv_ptr, dgv_ptr, e, k0, n, hidden, scale)
    _backward_quarter(grad_ptr, gv_ptr, dgv_ptr, e + LANES, k1, n, hidden, scale)
    _backward_quarter(grad_ptr, gv_ptr, dgv_ptr, e + 2 * LANES, k2, n, hidden, scale)
    _backward_quarter(grad_ptr, gv_ptr, dgv_ptr, e + 3 * LANES, k3, n, hidden, scale)


def forward(gv: torch.Tensor, h: torch.Tensor, seed: torch.Tensor, threshold: int, scale: float) -> None:
    """Write dropout(silu(gate) * value) of the contiguous `gv` = [gate | value] into the contiguous `h`."""
    n, hidden = h.numel(), h.shape[-1]
    with torch.cuda.device(h.device):
        _forward_kernel[(triton.cdiv(n, 4 * LANES),)](gv, h, seed, n, hidden, threshold, scale, LANES=LANES)


def backward(grad: torch.Tensor, gv: torch.Tensor, dgv: torch.Tensor, seed: torch.Tensor, threshold: int, scale: float) -> None:
    """Write the gradient of `forward` for the contiguous `grad` into the contiguous `dgv` = [d gate | d value]."""
    n, hidden = grad.numel(), grad.shape[-1]
    with torch.cuda.device(grad.device):
        _backward_kernel[(triton.cdiv(n, 4 * LANES),)](grad, gv, dgv, seed, n, hidden, threshold, scale, LANES=LANES)
