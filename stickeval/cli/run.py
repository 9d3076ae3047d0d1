"""`stickeval run VARIANT` and `stickeval score RUN_DIR`: generate, score, report."""

from __future__ import annotations

import contextlib
import os
import shlex
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from stickeval.cli.options import (
    BatchSizeOpt,
    DeviceOpt,
    DtypeOpt,
    ForceOpt,
    JsonOpt,
    OutDirOpt,
    RevisionOpt,
    SeedOpt,
    ThreadsOpt,
    VariantArg,
    ZooOpt,
)
from stickeval.cli.output import Column, console, err_console, examples, fit_table, print_json
from stickeval.errors import RunInterrupted

RUN_EXAMPLES = examples(
    "stickeval run large-sft --suite standard   # GPU; runs/large-sft/results.json",
    "stickeval run ./my-checkpoint --limit 32 --device cpu   # a quick look",
    "stickeval run ./my-checkpoint --data sft_data_embedded.pt --log-samples",
    "stickeval run large --suite standard --nproc 2   # 2 GPUs via torchrun, same numbers",
)

SCORE_EXAMPLES = examples(
    "stickeval score runs/large-sft   # re-score cached generations, no model needed",
)

# The results table: the metric, its estimate and interval are kept; what it means, n, then the reference give way when narrow.
COLUMNS = [
    Column("metric", keep=True),
    Column("value", "right", keep=True),
    Column("95% CI", "right", keep=True),
    Column("real", "right"),
    Column("n", "right"),
    Column("meaning"),
]
# The context table: what a model-free answer scores on each metric (results.json `baselines`).
# Columns in this order; the last go first when narrow (the lookup row, then white noise).
BASELINE_HEADERS = {"real": "real", "first_frame": "still", "mean_pose": "mean", "white_noise": "noise", "retrieval": "lookup"}
ARROWS = {"higher": "↑", "lower": "↓", "closest to reference": "≈"}
LEGEND = (
    "↑ higher is better, ↓ lower is better, ≈ closer to the real row is better. 95% CI: bootstrap "
    "interval over n samples. real: another real clip of each prompt's action scored through the same "
    "code, the yardstick for the model's value. Context: the first frame held still, the train mean pose, "
    "white noise, the train clip whose prompt is nearest (lookup). Definitions: docs/metrics.md."
)


class _SequencesPerSecond(ProgressColumn):
    """Rollouts per second, as rich measures the task's speed."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f} seq/s", style="cyan")


def _fmt(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}g}"


def _print_table(results: dict) -> None:
    """The metrics as a table that fits the console, then what its columns and arrows mean."""
    from stickeval.evaluation.results import metric_rows

    model, suite = results["model"], results["suite"]
    rows = [
        [
            f"{r.name} {ARROWS[r.direction]}",
            _fmt(r.value),
            f"[{_fmt(r.ci[0])}, {_fmt(r.ci[1])}]",
            _fmt(r.reference),
            str(r.n),
            r.description,
        ]
        for r in metric_rows(results)
    ]
    table, dropped = fit_table(COLUMNS, rows, title=f"{model['variant']} on {suite['name']} (n={suite['n']})")
    console.print(table)
    context = [r for r in metric_rows(results) if r.baselines and r.value is not None and any(v is not None for v in r.baselines.values())]
    if context:
        names = [b for b in BASELINE_HEADERS if b in context[0].baselines]
        columns = [Column("metric", keep=True), Column("model", "right", keep=True)]
        columns += [Column(BASELINE_HEADERS[b], "right", keep=b == "real") for b in names]
        cells = [[f"{r.name} {ARROWS[r.direction]}", _fmt(r.value, 2)] + [_fmt(r.baselines[b], 2) for b in names] for r in context]
        table, gone = fit_table(columns, cells, title="Context: model-free answers to the same prompts")
        console.print(table)
        dropped += gone
    shown = f" Not shown at {console.width} columns: {', '.join(dropped)} (see --json)." if dropped else ""
    console.print(LEGEND + shown, highlight=False, markup=False, style="dim")


class _PlainProgress:
    """Progress as plain lines on stderr (CI logs, pipes): one every 10% of the rows or 30 s, whichever first."""

    def __init__(self, every_seconds: float = 30.0):
        self.every_seconds, self.started, self.last_time, self.last_tenth = every_seconds, time.monotonic(), time.monotonic(), -1

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return  # every row came from the cache: nothing is generated
        now, tenth = time.monotonic(), 10 * done // max(total, 1)
        if tenth == self.last_tenth and now - self.last_time < self.every_seconds and done < total:
            return
        self.last_time, self.last_tenth = now, tenth
        rate = done / (now - self.started) if now > self.started else 0.0
        err_console.print(
            f"generating: {done:,}/{total:,} rollouts ({done / max(total, 1):.0%}), {rate:.1f}/s",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A `progress(done, total)` callback: a rich bar on a terminal, plain periodic lines elsewhere."""
    if not err_console.is_terminal:
        yield _PlainProgress()
        return
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        _SequencesPerSecond(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _given_args(ctx: typer.Context, skip: tuple[str, ...]) -> list[str]:
    """The verb and the arguments and options given on this command line, but those named in `skip`."""
    parts = [ctx.info_name or "run"]
    for param in ctx.command.params:
        value, source = ctx.params.get(param.name), ctx.get_parameter_source(param.name)
        if param.name in skip or source is None or source.name not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        if not param.opts[0].startswith("-"):
            parts.append(str(value))
        elif getattr(param, "is_flag", False):
            parts.append(param.opts[-1] if value or not param.secondary_opts else param.secondary_opts[-1])
        else:
            parts += [param.opts[-1], str(value)]
    return parts


def _resume_command(ctx: typer.Context, output: Path) -> str:
    """The command line that continues this run: the options given, the run directory, --resume."""
    return shlex.join(["stickeval", *_given_args(ctx, ("out", "resume")), "-o", str(output), "--resume"])


def _report(results: dict, output: Path, json_: bool, *, scored_only: bool = False) -> None:
    if json_:
        print_json(results)
        return
    _print_table(results)
    for notice in results["notices"]:
        err_console.print(f"[yellow]Notice:[/] {notice}")
    err_console.print(_generation_line(results["timing"], results["config"]["rows"], scored_only=scored_only))
    err_console.print(f"Results: {output / 'results.json'}")


def _generation_line(timing: dict, rows: int, *, scored_only: bool) -> str:
    """Where the rollouts came from: generated now, partly or wholly from the cache (`score`: the cache)."""
    speed = f"{timing['sequences_per_second']:.1f} sequences/s" if timing["sequences_per_second"] else "an unrecorded speed"
    now = timing["rows_generated_now"]
    if scored_only:
        return f"Scored {rows:,} cached rollouts (the run generated them at {speed})."
    if now == 0:
        return f"All {rows:,} rollouts came from the cache (generated earlier at {speed})."
    if now < rows:
        return f"{now:,} of {rows:,} rollouts generated now ({rows - now:,} came from the cache); {speed} when generated."
    return f"{rows:,} rollouts generated now; {speed}."


def run(
    ctx: typer.Context,
    variant: VariantArg,
    suite: Annotated[str | None, typer.Option("--suite", help="quick (default), standard or real.")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Score on a Stick-Gen .pt dataset instead of a suite.")] = None,
    on_bad: Annotated[str, typer.Option("--on-bad", help="Bad samples in --data: fail, or skip (counted in the notices).")] = "fail",
    limit: Annotated[int | None, typer.Option("--limit", help="Use only the first N prompts.")] = None,
    noise: Annotated[bool, typer.Option("--noise/--no-noise", help="Also generate under prompt noise (robustness).")] = True,
    noise_prompts: Annotated[int, typer.Option("--noise-prompts", help="Prompts generated under each noise kind and level.")] = 64,
    batch_size: BatchSizeOpt = "auto",
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    prime: Annotated[str, typer.Option("--prime", help="Frame 0: reference (the clip's first frame) or zeros.")] = "reference",
    seed: SeedOpt = 0,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile each generation step (CUDA).")] = False,
    encoder: Annotated[
        str | None, typer.Option("--encoder", help="Text encoder (hash, bge-large); default: the one the model names.")
    ] = None,
    out: OutDirOpt = None,
    force: ForceOpt = False,
    log_samples: Annotated[bool, typer.Option("--log-samples", help="Also write samples.jsonl.")] = False,
    resume: Annotated[bool, typer.Option("--resume/--no-resume", help="Reuse cached generations of this configuration.")] = True,
    threads: ThreadsOpt = None,
    revision: RevisionOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
    chunk_rows: Annotated[
        int | None,
        typer.Option(
            "--chunk-rows",
            help="Rows per cached chunk: the unit of resuming and of sharing between processes (default: about 256 on CPU, 1024 on CUDA).",
        ),
    ] = None,
    nproc: Annotated[
        int, typer.Option("--nproc", min=1, help="Processes (one per GPU) started through torchrun; rank 0 scores and writes.")
    ] = 1,
) -> None:
    """Generate motion for a benchmark suite and score it; cached generations are reused (resume)."""
    from stickeval import zoo as zoo_api
    from stickeval._io import check_writable
    from stickeval.evaluation.run import RunSettings, evaluate

    if data is not None and suite is not None:
        raise typer.BadParameter("pass either --suite or --data, not both", param_hint="--suite/--data")
    settings = RunSettings(
        suite=str(data.resolve()) if data else suite or "quick",
        on_bad=on_bad,
        limit=limit,
        noise=noise,
        noise_prompts=noise_prompts,
        batch_size=batch_size,
        device=device,
        dtype=dtype,
        prime=prime,
        seed=seed,
        compile=compile,
        encoder=encoder,
        chunk_rows=chunk_rows,
        threads=threads,
    )
    check_revision(variant, revision, zoo)
    if out is not None:
        check_writable(out, directory=True)  # before the model is loaded (or downloaded)
    if nproc > 1:
        from stickeval.cli.launch import torchrun
        from stickeval.device import available_cpus

        # each rank's share of the CPUs (torchrun would set OMP_NUM_THREADS=1, starving rank 0's scoring)
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, available_cpus() // nproc)))
        return torchrun(nproc, _given_args(ctx, ("nproc",)))
    loaded = zoo_api.load(variant, revision=revision, zoo=zoo)
    output = out or Path("runs") / Path(loaded.provenance.variant).name
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 alone shows progress and results
    try:
        with _progress() if main_rank else contextlib.nullcontext() as progress:
            results = evaluate(loaded, settings, output, resume=resume, force=force, log_samples=log_samples, progress=progress)
    except RunInterrupted as e:
        err_console.print(
            f"Interrupted: {e.cached_rows:,} of {e.total_rows:,} rollouts are cached in {e.output}. "
            f"Resume with: {_resume_command(ctx, output)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if results is not None:
        _report(results, output, json_)


def check_revision(variant: str, revision: str | None, zoo: Path | None) -> None:
    """Refuse --revision for a variant that has none, before any work (`zoo.loading.check_revision`)."""
    if revision is None:
        return
    from stickeval.zoo.loading import check_revision as refuse_revision
    from stickeval.zoo.registry import resolve_variant

    refuse_revision(resolve_variant(variant, zoo), revision)


def score(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory written by `stickeval run`.", show_default=False)],
    log_samples: Annotated[bool, typer.Option("--log-samples", help="Also write samples.jsonl.")] = False,
    threads: ThreadsOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Re-score a run from its cached generations (no model, no GPU)."""
    from stickeval.evaluation.run import score as score_api

    _report(score_api(run_dir, log_samples=log_samples, threads=threads), run_dir, json_, scored_only=True)
