"""Fusing the layer's memory-bound work into Triton GEMMs, measured on the GPU: the experiment behind
the fused-GEMM lines of docs/benchmarks.md ("What was tried").

    PYTHONPATH=. python benchmarks/experiments/fused_gemm.py --out runs/experiments/fused_gemm.json

The kernel below is a Triton GEMM with the work around it inside: SwiGLU's `silu(gate) * value`
formed from the gate and value tiles as it loads them (a prologue), bias and residual added to
the float32 accumulator (an epilogue). Each use is timed at the large size's shapes (batch 1,024
x prefix 126 = 129,024 rows, d_model 512) against the unfused ops it would replace, compiled
(cuBLAS GEMMs plus inductor's fused elementwise kernels), for every candidate tile shape, with
the relative error against the unfused result. The engine keeps the unfused path: the fused GEMMs
lose to cuBLAS where most of the elementwise work is (see docs/benchmarks.md). The first design,
RMSNorm and SwiGLU in the epilogue of the q/k/v and gate/value GEMMs, is at commit 1ab166e
(`stickeval/zoo/kernels.py`, `fused.py`).
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from stickeval.zoo.model import ModelConfig, StickFigureTransformer

LARGE = ModelConfig(d_model=512, nhead=16, num_layers=10)
TILES = [
    (128, 128, 64, 8, 3),
    (256, 128, 64, 8, 3),
    (128, 256, 64, 8, 3),
    (128, 128, 128, 8, 3),
    (128, 128, 64, 4, 4),
    (64, 128, 64, 4, 4),
    (128, 64, 64, 4, 4),
    (128, 64, 128, 4, 3),
    (64, 64, 64, 4, 4),
    (128, 128, 32, 4, 5),
    (256, 64, 64, 8, 3),
    (64, 256, 64, 4, 3),
]


@triton.jit
def _fused_linear_kernel(
    x_ptr,
    w_ptr,
    bias_ptr,
    res_ptr,
    out_ptr,
    M,
    N,
    K,
    stride_xm,
    stride_wn,
    stride_rm,
    stride_om,
    SWIGLU: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
):
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

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        k = k0 + ks
        a_mask = row_ok[:, None] & (k < K)[None, :]
        a_ptrs = x_ptr + rows[:, None] * stride_xm + k[None, :]
        a = tl.load(a_ptrs, mask=a_mask, other=0.0)
        if SWIGLU:  # x = [gate | value]: the GEMM's input is silu(gate) * value, rounded as the unfused one
            gate = a.to(tl.float32)
            value = tl.load(a_ptrs + K, mask=a_mask, other=0.0).to(tl.float32)
            a = (gate * tl.sigmoid(gate) * value).to(x_ptr.dtype.element_ty)
        w = tl.load(w_ptr + cols[None, :] * stride_wn + k[:, None], mask=(k < K)[:, None] & col_ok[None, :], other=0.0)
        acc = tl.dot(a, w, acc)  # w: (BLOCK_K, BLOCK_N) of W.T

    if HAS_BIAS:
        acc += tl.load(bias_ptr + cols, mask=col_ok, other=0.0).to(tl.float32)[None, :]
    out_mask = row_ok[:, None] & col_ok[None, :]
    acc += tl.load(res_ptr + rows[:, None] * stride_rm + cols[None, :], mask=out_mask, other=0.0).to(tl.float32)
    tl.store(out_ptr + rows[:, None] * stride_om + cols[None, :], acc.to(out_ptr.dtype.element_ty), mask=out_mask)


def fused_linear(x, weight, bias, residual, swiglu: bool, tile: tuple[int, int, int, int, int]) -> torch.Tensor:
    """residual + a @ weight.T [+ bias] with a = x, or a = silu(gate) * value for x = [gate | value]."""
    M, (N, K) = x.shape[0], weight.shape
    out = torch.empty(M, N, device=x.device, dtype=x.dtype)
    block_m, block_n, block_k, warps, stages = tile
    _fused_linear_kernel[(triton.cdiv(M, block_m) * triton.cdiv(N, block_n),)](
        x,
        weight,
        bias if bias is not None else x,
        residual,
        out,
        M,
        N,
        K,
        x.stride(0),
        weight.stride(0),
        residual.stride(0),
        out.stride(0),
        SWIGLU=swiglu,
        HAS_BIAS=bias is not None,
        BLOCK_M=block_m,
        BLOCK_N=block_n,
        BLOCK_K=block_k,
        GROUP_M=8,
        num_warps=warps,
        num_stages=stages,
    )
    return out


def cuda_ms(fn, reps: int = 30) -> float:
    """Median milliseconds of fn() over `reps` timed calls after three warm-ups."""
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--rows", type=int, default=1024 * 126)
    args = parser.parse_args()
    torch.manual_seed(0)
    layer = StickFigureTransformer(LARGE).eval().transformer_encoder.layers[0].cuda().bfloat16()
    M, D = args.rows, LARGE.d_model
    x = torch.randn(M, D, device="cuda", dtype=torch.bfloat16)
    gv = torch.randn(M, 8 * D, device="cuda", dtype=torch.bfloat16)
    out_proj, down = layer.self_attn.out_proj, layer.ffn.output_proj
    ops = {  # name: (unfused, fused with a given tile)
        "attention out (bias, residual)": (
            torch.compile(lambda: x + out_proj(x)),
            lambda tile: fused_linear(x, out_proj.weight, out_proj.bias, x, False, tile),
        ),
        "ffn out (swiglu prologue, residual)": (
            torch.compile(lambda: x + down((lambda g, v: F.silu(g) * v)(*gv.chunk(2, dim=-1)))),
            lambda tile: fused_linear(gv, down.weight, None, x, True, tile),
        ),
    }
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "triton": triton.__version__, "ops": []}
    with torch.inference_mode():
        for name, (unfused, fused) in ops.items():
            ref = unfused().float()
            row = {"op": name, "rows": M, "unfused_ms": cuda_ms(unfused), "tiles": {}}
            for tile in TILES:
                try:
                    err = float(((fused(tile).float() - ref).norm() / ref.norm()).item())
                    row["tiles"][str(tile)] = {"ms": cuda_ms(functools.partial(fused, tile)), "rel_err": err}
                except triton.runtime.errors.OutOfResources as e:
                    row["tiles"][str(tile)] = {"error": str(e)[:200]}
            best = min((v["ms"], k) for k, v in row["tiles"].items() if "ms" in v)
            row["best"] = {"tile": best[1], "ms": best[0], "speedup": row["unfused_ms"] / best[0]}
            print(json.dumps(row), flush=True)
            results["ops"].append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
