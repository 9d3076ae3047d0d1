"""`stickeval bench VARIANT`: generation throughput against the device's peak and the original loop."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from stickeval.cli.options import BatchSizeOpt, DeviceOpt, DtypeOpt, JsonOpt, OutOpt, RevisionOpt, ThreadsOpt, VariantArg, ZooOpt
from stickeval.cli.output import err_console, examples, print_fields, print_json

EXAMPLES = examples(
    "stickeval bench large --compile     # sequences/s, TFLOP/s, fraction of peak",
    "stickeval bench small --frames 64 --prompts 32 --device cpu -o bench.json",
)


def bench(
    variant: VariantArg,
    frames: Annotated[int, typer.Option("--frames", help="Frames per sequence.")] = 250,
    prompts: Annotated[int, typer.Option("--prompts", help="Sequences timed.")] = 1024,
    batch_size: BatchSizeOpt = "auto",
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile each generation step.")] = False,
    baseline_prompts: Annotated[int, typer.Option("--baseline-prompts", help="Prompts timed with the original loop.")] = 2,
    threads: ThreadsOpt = None,
    revision: RevisionOpt = None,
    zoo: ZooOpt = None,
    out: OutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Time batched generation after warm-up; compare with the original per-prompt fp32 loop."""
    from stickeval import zoo as zoo_api
    from stickeval._io import check_writable, write_text_atomic
    from stickeval.cli.run import check_revision
    from stickeval.throughput import bench as bench_api

    check_revision(variant, revision, zoo)
    if out:
        check_writable(out)  # before the work: a bad -o fails in a second, not after the timing
    loaded = zoo_api.load(variant, revision=revision, zoo=zoo)
    result = bench_api(
        loaded.model,
        frames=frames,
        n_prompts=prompts,
        device=device,
        dtype=dtype,
        compile=compile,
        batch_size=batch_size,
        baseline_prompts=baseline_prompts,
        threads=threads,
        progress=lambda line: err_console.print(f"bench: {line}", highlight=False, markup=False),
    )
    doc = {"variant": loaded.provenance.variant, **result.to_dict()}
    if out:
        write_text_atomic(out, json.dumps(doc, indent=2) + "\n")
    if json_:
        print_json(doc)
        return
    rows = [
        ("sequences/s", f"{result.sequences_per_second:,.2f}"),
        ("TFLOP/s achieved", f"{result.tflops:,.2f}"),
        ("device peak TFLOP/s (matmul)", "—" if result.peak_tflops is None else f"{result.peak_tflops:,.0f}"),
        ("fraction of peak", "—" if result.fraction_of_peak is None else f"{result.fraction_of_peak:.1%}"),
        ("GFLOP per sequence", f"{result.gflop_per_sequence:,.1f}"),
        ("original loop sequences/s", f"{result.baseline_sequences_per_second:,.3f}"),
        ("speed-up", f"{result.speedup:,.0f}x"),
        ("torch CPU threads", str(result.threads)),
    ]
    print_fields(f"{loaded.provenance.variant}: {frames} frames, {prompts} prompts, {result.dtype} on {result.device}", rows)
