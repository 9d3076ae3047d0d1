"""Where the compiled step's start-up goes: per-layer against whole-step compilation, cold and warm.

    for phase in whole-cold whole-warm whole-mega cold warm; do
        PYTHONPATH=. python benchmarks/experiments/compile_time.py $phase OUT; done

Times the first calls of the compiled generation step on the large size (random weights, bf16,
batch 798 as in a standard-suite run) step by step, with dynamo's per-phase compile times and
graph counts. Phases, each in a fresh process: "cold" and "warm" time `generation.compiled_step`
(compiled per encoder layer) on an empty inductor cache and then on the same cache directory
again; "whole-cold", "whole-warm" and "whole-mega" time the whole step as one graph (what
`compiled_step` did before `8488cc8`) in a directory of their own: empty (its
`torch.compiler.save_cache_artifacts` saved to OUT), again, and empty but pre-filled with
`load_cache_artifacts` from those artifacts (what a fresh machine would get from a shipped
cache). Each phase also times the step at prefix 126 once compiled, the price of the graph
boundaries.
"""

from __future__ import annotations

import json
import os
import sys
import time

phase, out = sys.argv[1], sys.argv[2]
os.environ["TORCHINDUCTOR_CACHE_DIR"] = "/tmp/inductor-" + {"whole-mega": "mega", "whole-cold": "whole", "whole-warm": "whole"}.get(
    phase, "layers"
)
os.environ.setdefault("TRITON_CACHE_DIR", os.environ["TORCHINDUCTOR_CACHE_DIR"] + "/triton")

started = time.perf_counter()
import torch  # noqa: E402

from stickeval.device import on_device  # noqa: E402
from stickeval.generation import _step, compiled_step  # noqa: E402
from stickeval.zoo.model import ModelConfig, StickFigureTransformer  # noqa: E402

import_seconds = time.perf_counter() - started
artifacts = os.path.join(out, "compile-artifacts.bin")
load_seconds = None
if phase == "whole-mega":
    t0 = time.perf_counter()
    with open(artifacts, "rb") as f:
        torch.compiler.load_cache_artifacts(f.read())
    load_seconds = time.perf_counter() - t0

torch.manual_seed(0)
engine = on_device(StickFigureTransformer(ModelConfig(d_model=512, nhead=16, num_layers=10)).eval(), torch.device("cuda"), torch.bfloat16)
tokens = torch.randn(798, 251, 512, device="cuda", dtype=torch.bfloat16)
step = torch.compile(_step, dynamic=True) if phase.startswith("whole") else compiled_step()
times = []
with torch.inference_mode():
    for t in range(1, 41):
        t0 = time.perf_counter()
        step(engine, tokens[:, : t + 1])
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        step(engine, tokens[:, :126])
    torch.cuda.synchronize()
    mid_step_ms = (time.perf_counter() - t0) * 100
if phase == "whole-cold":
    blob, _ = torch.compiler.save_cache_artifacts()
    with open(artifacts, "wb") as f:
        f.write(blob)
counters = {k: dict(v) for k, v in torch._dynamo.utils.counters.items() if k in ("stats", "inductor", "aot_autograd")}
result = {
    "phase": phase,
    "import_seconds": import_seconds,
    "load_artifacts_seconds": load_seconds,
    "first_call_seconds": times[0],
    "step_at_prefix_126_ms": mid_step_ms,
    "next_calls_seconds": times[1:6],
    "steps_2_to_40_seconds": sum(times[1:]),
    "slow_calls": [(i + 1, round(s, 2)) for i, s in enumerate(times) if s > 0.5],
    "compile_times": torch._dynamo.utils.compile_times(repr="str"),
    "counters": counters,
}
print(json.dumps(result, indent=1, default=str), flush=True)
with open(os.path.join(out, f"compile-{phase}.json"), "w") as f:
    json.dump(result, f, indent=1, default=str)
