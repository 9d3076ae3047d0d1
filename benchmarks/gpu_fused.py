"""The fused encoder layers on the GPU, in one call of the device machine: tiles, agreement, speed.

    PYTHONPATH=. python benchmarks/gpu_fused.py --out $OUT/gpu_fused.json

1. Each of the layer's four GEMMs at the large size's shapes (batch 1,024 x prefix 126, d_model
   512), unfused (`torch.compile` of the model's own modules: cuBLAS GEMMs plus inductor's fused
   elementwise kernels) against `kernels.fused_linear` with each candidate tile shape.
2. Agreement: fp32 fused vs unfused layer outputs (IEEE products), bf16 rollouts fused vs unfused
   vs fp32 (64 prompts x 250 frames).
3. `bench` of large: compiled unfused, fused eager, fused compiled.
"""

from __future__ import annotations

import argparse
import json
import traceback

import numpy as np
import torch
import torch.nn.functional as F

from stickeval.bench import bench
from stickeval.device import on_device
from stickeval.generation import generate
from stickeval.zoo import kernels
from stickeval.zoo.fused import FusedEncoderLayer, fuse
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

LARGE = ModelConfig(d_model=512, nhead=16, num_layers=10)
PLAIN_TILES = [(128, 128, 64, 8, 3), (128, 128, 64, 4, 4), (128, 256, 64, 8, 3), (256, 128, 64, 8, 3),
               (64, 128, 64, 4, 4), (128, 64, 64, 4, 4), (128, 128, 32, 4, 4), (64, 256, 64, 8, 3)]  # fmt: skip
SWIGLU_TILES = [(128, 64, 64, 8, 3), (128, 64, 64, 4, 4), (128, 128, 64, 8, 3), (64, 128, 64, 4, 4),
                (128, 128, 32, 8, 4), (64, 64, 64, 4, 4), (256, 64, 64, 8, 3)]  # fmt: skip


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


def op_sweep(M: int = 1024 * 126) -> list[dict]:
    torch.manual_seed(0)
    layer = StickFigureTransformer(LARGE).eval().transformer_encoder.layers[0].cuda().bfloat16()
    f = FusedEncoderLayer(layer)
    D = LARGE.d_model
    x = torch.randn(M, D, device="cuda", dtype=torch.bfloat16)
    h = torch.randn(M, 4 * D, device="cuda", dtype=torch.bfloat16)
    attn, ffn = layer.self_attn, layer.ffn
    qkv_w = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
    qkv_b = torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
    gv_w = torch.cat([ffn.gate_proj.weight, ffn.value_proj.weight])
    unfused = {
        "qkv (norm, bias)": torch.compile(lambda: F.linear(layer.norm1(x), qkv_w, qkv_b)),
        "attention out (bias, residual)": torch.compile(lambda: x + attn.out_proj(x)),
        "gate/value (norm, swiglu)": torch.compile(lambda: (lambda g, v: F.silu(g) * v)(*F.linear(layer.norm2(x), gv_w).split(4 * D, -1))),
        "ffn out (residual)": torch.compile(lambda: x + ffn.output_proj(h)),
    }
    fused_calls = {
        "qkv (norm, bias)": ("plain", lambda: kernels.fused_linear(x, f.qkv_weight, f.qkv_bias, None, f.eps1)),
        "attention out (bias, residual)": ("plain", lambda: kernels.fused_linear(x, f.out_weight, f.out_bias, x)),
        "gate/value (norm, swiglu)": ("swiglu", lambda: kernels.fused_linear(x, f.gate_value_weight, None, None, f.eps2, True)),
        "ffn out (residual)": ("reduce", lambda: kernels.fused_linear(h, f.ffn_out_weight, None, x)),
    }
    rows = []
    with torch.inference_mode():
        for name, fn in unfused.items():
            kind, call = fused_calls[name]
            ms_unfused = cuda_ms(fn)
            ref = fn().float()
            row = {"op": name, "M": M, "unfused_ms": ms_unfused, "tiles": {}}
            for tile in SWIGLU_TILES if kind == "swiglu" else PLAIN_TILES:
                kernels.TILES[kind] = tile
                try:
                    err = float(((call().float() - ref).norm() / ref.norm()).item())
                    row["tiles"][str(tile)] = {"ms": cuda_ms(call), "rel_err": err}
                except Exception as e:  # a tile that does not fit in shared memory or registers
                    row["tiles"][str(tile)] = {"error": repr(e)[:200]}
            best = min((v["ms"], k) for k, v in row["tiles"].items() if "ms" in v)
            row["best"] = {"tile": best[1], "ms": best[0], "speedup": ms_unfused / best[0]}
            kernels.TILES[kind] = eval(best[1])
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def agreement() -> dict:
    torch.manual_seed(0)
    model = StickFigureTransformer(LARGE).eval()
    for layer in model.transformer_encoder.layers:  # norms away from 1, so the folding is exercised
        torch.nn.init.normal_(layer.norm1.weight, 1.0, 0.2)
        torch.nn.init.normal_(layer.norm2.weight, 1.0, 0.2)
    out = {}
    with torch.inference_mode():
        ref32 = on_device(model, torch.device("cuda"), torch.float32)
        fused32 = fuse(ref32)
        x = torch.randn(8, 120, LARGE.d_model, device="cuda")
        a, b = ref32.encode(x, last_only=True), fused32.encode(x, last_only=True)
        out["fp32_encode_max_abs"] = float((a - b).abs().max())
        a, b = ref32.encode(x), fused32.encode(x)
        out["fp32_encode_full_max_abs"] = float((a - b).abs().max())
    rng = np.random.default_rng(1)
    n, frames = 64, 250
    texts = rng.standard_normal((n, 1024)).astype(np.float32)
    texts /= np.linalg.norm(texts, axis=1, keepdims=True)
    actions = rng.integers(0, 64, (n, frames))
    first = rng.standard_normal((n, 20)).astype(np.float32) * 0.5
    kw = dict(frames=frames, first_frames=first, device="cuda", batch_size=n)
    fp32 = generate(model, texts, actions, dtype="float32", **kw).motion
    bf16 = generate(model, texts, actions, dtype="bfloat16", **kw).motion
    bf16_engine = fuse(on_device(model, torch.device("cuda"), torch.bfloat16))
    fused = generate(bf16_engine, texts, actions, dtype="bfloat16", **kw).motion
    fused_b7 = generate(bf16_engine, texts, actions, dtype="bfloat16", **{**kw, "batch_size": 7}).motion
    rel = lambda a, b: float(np.linalg.norm(a - b) / np.linalg.norm(b))
    out.update(
        unfused_bf16_vs_fp32_rel_l2=rel(bf16, fp32),
        fused_bf16_vs_fp32_rel_l2=rel(fused, fp32),
        fused_vs_unfused_bf16_rel_l2=rel(fused, bf16),
        fused_bf16_vs_fp32_rel_l2_frame1=rel(fused[:, 1], fp32[:, 1]),
        fused_batch64_vs_batch7_max_abs=float(np.abs(fused - fused_b7).max()),
        motion_rms=float(np.sqrt((fp32**2).mean())),
    )
    print(json.dumps(out), flush=True)
    return out


def speed(prompts: int) -> list[dict]:
    torch.manual_seed(0)
    model = StickFigureTransformer(LARGE).eval()
    bf16 = on_device(model, torch.device("cuda"), torch.bfloat16)
    rows = []
    for label, engine, compiled in [("unfused", bf16, True), ("fused", fuse(bf16), False), ("fused", fuse(bf16), True)]:
        try:
            r = bench(engine, n_prompts=prompts, batch_size=prompts, compile=compiled, measure_peak=not rows, baseline_prompts=1)
            row = {"engine": label, **r.to_dict()}
        except Exception:
            row = {"engine": label, "compile": compiled, "error": traceback.format_exc()[-2000:]}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--prompts", type=int, default=1024)
    parser.add_argument("--parts", default="ops,agreement,speed")
    args = parser.parse_args()
    results = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for part in args.parts.split(","):
        try:
            results[part] = {"ops": op_sweep, "agreement": agreement, "speed": lambda: speed(args.prompts)}[part]()
        except Exception:
            results[part] = {"error": traceback.format_exc()[-3000:]}
            print(results[part]["error"], flush=True)
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    print("final tiles:", kernels.TILES)


if __name__ == "__main__":
    main()
