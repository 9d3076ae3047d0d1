"""A Triton GEMM that carries the memory-bound work around it: RMSNorm, bias, SwiGLU and the residual.

    out = epilogue(rmsnorm(x) @ W.T)

In the unfused block every GEMM's input or output makes an extra trip through GPU memory: RMSNorm
reads and writes the residual stream before the projections, `silu(gate) * value` reads two
(M, 4D) tensors and writes a third, the residual add reads both operands again. Here they happen
in registers:

- RMSNorm's per-row scale commutes with the GEMM, `(r_i x_i) W^T = r_i (x_i W^T)`, so the kernel
  sums the squares of the x tiles it loads anyway and scales the accumulator at the end; the
  norm's weight is folded into W's columns beforehand (`stickeval.zoo.fused`);
- SwiGLU keeps the gate and the value accumulators side by side and writes only their product;
- bias and residual are added to the float32 accumulator before the one rounding to x's dtype.

Imported only on CUDA machines with Triton (`stickeval.zoo.fused.fusion_available`). Under
`TRITON_INTERPRET=1` the kernel also runs on CPU tensors, which is how the tests check its
arithmetic on machines without a GPU.
"""

from typing import Optional

import torch
import triton
import triton.language as tl

# Tile shapes per GEMM kind, picked on an H200 at batch 1,024 x prefix 126 for d_model 512
# (benchmarks/gpu_fused.py, docs/benchmarks.md): (BLOCK_M, BLOCK_N, BLOCK_K, num_warps, num_stages).
# "swiglu": the gate/value GEMM (two accumulators); "reduce": K >= 2N (the SwiGLU output projection).
TILES: dict[str, tuple[int, int, int, int, int]] = {
    "plain": (128, 128, 64, 8, 3),
    "swiglu": (128, 64, 64, 8, 3),
    "reduce": (128, 128, 64, 8, 3),
}


@triton.jit
def _fused_linear_kernel(
    x_ptr, w_ptr, bias_ptr, res_ptr, out_ptr,
    M, N, K,
    stride_xm, stride_wn, stride_rm, stride_om,
    eps,
    NORM: tl.constexpr, SWIGLU: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_RESIDUAL: tl.constexpr,
    IEEE: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr,
):  # fmt: skip
    # Grouped tile order: GROUP_M row-blocks sweep the columns together, so W's tiles stay in L2.
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    per_group = GROUP_M * num_n
    first_m = (pid // per_group) * GROUP_M
    group_rows = min(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % group_rows
    pid_n = (pid % per_group) // group_rows

    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    ks = tl.arange(0, BLOCK_K)
    row_ok = rows < M
    col_ok = cols < N
    precision: tl.constexpr = "ieee" if IEEE else "tf32"

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_value = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)  # SwiGLU's value half; unused otherwise
    sum_squares = tl.zeros((BLOCK_M,), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + ks
        k_ok = k < K
        a = tl.load(x_ptr + rows[:, None] * stride_xm + k[None, :], mask=row_ok[:, None] & k_ok[None, :], other=0.0)
        if NORM:
            af = a.to(tl.float32)
            sum_squares += tl.sum(af * af, axis=1)
        w_mask = k_ok[:, None] & col_ok[None, :]
        w = tl.load(w_ptr + cols[None, :] * stride_wn + k[:, None], mask=w_mask, other=0.0)  # (BLOCK_K, BLOCK_N) of W.T
        acc = tl.dot(a, w, acc, input_precision=precision)
        if SWIGLU:
            wv = tl.load(w_ptr + (cols[None, :] + N) * stride_wn + k[:, None], mask=w_mask, other=0.0)
            acc_value = tl.dot(a, wv, acc_value, input_precision=precision)

    if NORM:
        scale = 1.0 / tl.sqrt(sum_squares / K + eps)
        acc = acc * scale[:, None]
        if SWIGLU:
            acc_value = acc_value * scale[:, None]
    if HAS_BIAS:
        acc += tl.load(bias_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    if SWIGLU:
        acc = acc * tl.sigmoid(acc) * acc_value
    out_mask = row_ok[:, None] & col_ok[None, :]
    if HAS_RESIDUAL:
        acc += tl.load(res_ptr + rows[:, None] * stride_rm + cols[None, :], mask=out_mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + rows[:, None] * stride_om + cols[None, :], acc.to(out_ptr.dtype.element_ty), mask=out_mask)


@torch.library.triton_op("stickeval::fused_linear", mutates_args=())
def fused_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: Optional[torch.Tensor] = None,
    residual: Optional[torch.Tensor] = None,
    norm_eps: Optional[float] = None,
    swiglu: bool = False,
) -> torch.Tensor:
    """(M, N) = [residual +] epilogue(rmsnorm(x) @ weight.T [+ bias]) for a 2-D x (M, K) with unit column stride.

    norm_eps: apply RMSNorm (without its weight: fold that into `weight`) with this epsilon.
    swiglu: `weight` stacks the gate's and the value's rows (2N, K); the output is silu(gate) * value.
    residual: (M, N), added last. Computed in float32 and rounded once to x's dtype; float32
    inputs use full-precision (IEEE) products. A torch custom op, so torch.compile keeps it whole.
    """
    M, K = x.shape
    N = weight.shape[0] // 2 if swiglu else weight.shape[0]
    out = torch.empty(M, N, device=x.device, dtype=x.dtype)
    kind = "swiglu" if swiglu else "reduce" if K >= 2 * N else "plain"
    block_m, block_n, block_k, warps, stages = TILES[kind]
    grid = (triton.cdiv(M, block_m) * triton.cdiv(N, block_n),)
    torch.library.wrap_triton(_fused_linear_kernel)[grid](
        x, weight, bias if bias is not None else x, residual if residual is not None else x, out,
        M, N, K,
        x.stride(0), weight.stride(0), residual.stride(0) if residual is not None else 0, out.stride(0),
        norm_eps if norm_eps is not None else 0.0,
        NORM=norm_eps is not None, SWIGLU=swiglu, HAS_BIAS=bias is not None, HAS_RESIDUAL=residual is not None,
        IEEE=x.dtype == torch.float32,
        BLOCK_M=block_m, BLOCK_N=block_n, BLOCK_K=block_k, GROUP_M=8,
        num_warps=warps, num_stages=stages,
    )  # fmt: skip
    return out
