"""`stickeval train`, `stickeval finetune` and `stickeval recipes`: train by a recipe, list and copy recipes.

Heavy imports (torch, the trainer) happen inside the commands, so `stickeval --help` stays fast.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stickeval.cli.options import DeviceOpt, DtypeOpt, ForceOpt, JsonOpt, ThreadsOpt, ZooOpt
from stickeval.cli.output import console, err_console, print_json
from stickeval.errors import TrainingInterrupted

# Help epilogs; "\b" keeps click from re-wrapping the example lines.
TRAIN_EXAMPLES = """Examples:

\b
  # StickBench, no data file needed
  stickeval train --recipe pretrain-nano -o runs/nano
  stickeval train --recipe pretrain-small --data train.pt \\
      --set optimizer.lr=1e-4 -o runs/small
  stickeval train --recipe my.toml --data train.pt --max-steps 20 -o runs/smoke
  # score the quick suite every 500 steps; TensorBoard beside the log
  stickeval train --recipe pretrain-nano --eval-every 500 --log tensorboard
  # continue where it stopped (Ctrl-C saves the last step and prints this line)
  stickeval train --resume runs/small
  # start over in a directory that holds a run
  stickeval train --recipe pretrain-nano -o runs/nano --force
"""

FINETUNE_EXAMPLES = """Examples:

\b
  stickeval finetune large --recipe sft-large --data sft.pt -o runs/large-sft
  stickeval finetune small --recipe sft-small --data sft.pt \\
      --set lora.enabled=true -o runs/small-lora
  # the original's execution: forward passes of 2 samples
  stickeval finetune large --recipe sft-large --data sft.pt \\
      --set schedule.micro_batch=2
  torchrun --nproc-per-node 4 -m stickeval finetune large \\
      --recipe sft-large --data sft.pt -o runs/large-sft
"""

RECIPES_EXAMPLES = """Examples:

\b
  stickeval recipes                        # the packaged recipes
  stickeval recipes show sft-large         # the file, with its comments
  stickeval recipes cp sft-large my.toml   # edit it, then --recipe my.toml
"""

LOGGERS = ("tensorboard",)  # what --log adds beside train_log.jsonl
PLAIN_EVERY_SECONDS = 30.0  # off a terminal, at most one progress line per this many seconds

RecipeOpt = Annotated[str | None, typer.Option("--recipe", help="A packaged recipe name (`stickeval recipes`) or a .toml file.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help='The training .pt file (recipes with data.source = "file").')]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a recipe key: section.key=value (TOML value). Repeatable.")]
OutDirOpt = Annotated[Path | None, typer.Option("-o", "--out", help="Run directory to write (default: runs/<recipe>).")]
ResumeOpt = Annotated[Path | None, typer.Option("--resume", help="Continue the run in this directory from its last checkpoint.")]
MaxStepsOpt = Annotated[int | None, typer.Option("--max-steps", min=1, help="Stop after this many optimizer steps (smoke runs).")]
MergeOpt = Annotated[bool, typer.Option("--merge", help="With LoRA: save merged weights instead of base + adapters.")]
InitOpt = Annotated[
    str | None, typer.Option("--init-from", help="Start from these weights: a zoo variant, repo id or checkpoint directory.")
]
CompileOpt = Annotated[
    bool | None, typer.Option("--compile/--no-compile", help="torch.compile the training step (default: on CUDA, off on CPU).")
]
EvalEveryOpt = Annotated[
    int | None,
    typer.Option(
        "--eval-every", min=1, help="Score the model every N optimizer steps as `stickeval run` does; metrics go into train_log.jsonl."
    ),
]
EvalDataOpt = Annotated[
    Path | None, typer.Option("--eval-data", help="With --eval-every: score on this .pt dataset instead of the StickBench quick suite.")
]
EvalLimitOpt = Annotated[int, typer.Option("--eval-limit", min=1, help="With --eval-every: prompts scored (`stickeval run --limit`).")]
LogOpt = Annotated[
    list[str] | None,
    typer.Option("--log", help="Also log to: tensorboard (events in RUN_DIR/tensorboard; pip install 'stickeval[tensorboard]')."),
]

app = typer.Typer(help="List, show and copy training recipes.", invoke_without_command=True)


@dataclass(frozen=True)
class RunOptions:
    """The options `train` and `finetune` share beyond the recipe."""

    data: Path | None = None
    out: Path | None = None
    max_steps: int | None = None
    merge: bool = False
    device: str | None = None
    dtype: str | None = None
    zoo: Path | None = None
    json_: bool = False
    compile: bool | None = None
    eval_every: int | None = None
    eval_data: Path | None = None
    eval_limit: int = 64
    log: tuple[str, ...] = ()
    force: bool = False
    threads: int | None = None


def _train(recipe: str | None, overrides: list[str], resume: Path | None, options: RunOptions) -> None:
    from stickeval.device import current_rank
    from stickeval.train import load_recipe, train
    from stickeval.train.output import RECIPE_FILE
    from stickeval.train.state import check_resumable

    if resume is not None and options.out is not None and options.out != resume:
        raise typer.BadParameter(
            "--resume continues in its own directory; drop -o/--out, or drop --resume to start a new run.", param_hint="--out"
        )
    if resume is not None and options.force:
        raise typer.BadParameter("--resume continues the run, --force replaces it; pass one of them.", param_hint="--force")
    if resume is not None:
        check_resumable(resume)
    if recipe is None and resume is None:
        raise typer.BadParameter("give --recipe NAME|FILE (see `stickeval recipes`), or --resume DIR.", param_hint="--recipe")
    unknown = [name for name in options.log if name not in LOGGERS]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: --log takes {', '.join(LOGGERS)}.", param_hint="--log")
    resolved = load_recipe(recipe if recipe is not None else resume / RECIPE_FILE, overrides)
    out = resume or options.out or Path("runs") / resolved.name
    evaluator = _evaluator(out, resolved.data.encoder, options) if options.eval_every else None
    show = current_rank().is_main and not options.json_
    try:
        with _progress(resolved.name, show) as on_event:
            result = train(
                resolved,
                out,
                data_path=options.data,
                resume=resume is not None,
                force=options.force,
                max_steps=options.max_steps,
                merge=options.merge,
                device=options.device,
                dtype=options.dtype,
                zoo=options.zoo,
                compile=options.compile,
                evaluator=evaluator,
                eval_every=options.eval_every,
                tensorboard="tensorboard" in options.log,
                threads=options.threads,
                callback=on_event,
            )
    except TrainingInterrupted as e:
        err_console.print(
            f"Interrupted at step {e.step} of {e.end_step}; saved a checkpoint of it in {e.out_dir}. "
            f"Resume with: {_resume_command(out, options)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if not current_rank().is_main:
        return
    summary = {
        "out_dir": str(result.out_dir),
        "recipe": resolved.name,
        "steps": result.steps,
        "total_steps": result.total_steps,
        "n_train": result.n_train,
        "n_val": result.n_val,
        "last_loss": result.last_loss,
        "val_losses": result.val_losses,
        "micro_batch": result.micro_batch,
        "compiled": result.compiled,
    }
    if options.json_:
        print_json(summary)
        return
    _print_curation(result.curation)
    last = "—" if result.last_loss is None else f"{result.last_loss:.4g}"
    console.print(
        f"Trained {result.steps} of {result.total_steps} steps (last loss {last}). Model: {result.out_dir} "
        f"(`stickeval run {result.out_dir}`; resume with `stickeval train --resume {result.out_dir}`)",
        highlight=False,
        soft_wrap=True,
    )


def _resume_command(out: Path, options: RunOptions) -> str:
    """The command line that continues the run in `out`: --resume and the options given that are not in its recipe."""
    args = ["stickeval", "train", "--resume", str(out)]
    valued = {
        "--data": options.data,
        "--max-steps": options.max_steps,
        "--device": options.device,
        "--dtype": options.dtype,
        "--zoo": options.zoo,
        "--eval-every": options.eval_every,
        "--eval-data": options.eval_data,
        "--eval-limit": options.eval_limit if options.eval_limit != RunOptions.eval_limit else None,
    }
    args += [part for flag, value in valued.items() if value is not None for part in (flag, str(value))]
    args += [part for name in options.log for part in ("--log", name)]
    if options.merge:
        args.append("--merge")
    if options.compile is not None:
        args.append("--compile" if options.compile else "--no-compile")
    if options.json_:
        args.append("--json")
    return shlex.join(args)


def _evaluator(out: Path, encoder: str, options: RunOptions):
    """The `--eval-every` scorer: `stickeval run`'s own evaluation (`evaluate`) of the model on the quick
    suite (or `--eval-data`), first `--eval-limit` prompts, results in RUN_DIR/evals/step-N; it returns
    the headline metrics with their 95% CIs for train_log.jsonl."""
    from stickeval.evaluation.run import RunSettings, evaluate
    from stickeval.metrics import HEADLINE
    from stickeval.train.output import EVALS_DIR
    from stickeval.zoo import LoadedModel, Provenance, count_parameters
    from stickeval.zoo.checkpoint import schema_name

    settings = RunSettings(
        suite=str(options.eval_data.resolve()) if options.eval_data else "quick",
        limit=options.eval_limit,
        device=options.device,
        dtype=options.dtype,
    )

    def score(model, step: int) -> dict | None:
        c = model.config
        provenance = Provenance(f"{out} at step {step}", "local", None, None, None, out, out / "model.safetensors")
        loaded = LoadedModel(model, c, provenance, encoder, schema_name(c.input_dim) or f"{c.input_dim}-dim", count_parameters(c))
        results = evaluate(loaded, settings, out / EVALS_DIR / f"step-{step}")
        if results is None:  # a torchrun rank other than 0
            return None
        metrics = results["metrics"]
        return {name: {k: metrics[name][k] for k in ("mean", "ci95", "n")} for name in HEADLINE if name in metrics}

    return score


def _status(values: dict) -> str:
    """A logged step in one line: loss, lr, speed, share of the peak, time left."""
    parts = [f"loss {values['loss']:.4g}", f"lr {values['lr']:.2e}"]
    if values.get("samples_per_s"):
        parts.append(f"{values['samples_per_s']:,.1f} samples/s, {values['tflops']:,.1f} TFLOP/s")
        if values.get("fraction_of_peak") is not None:
            parts[-1] += f" ({values['fraction_of_peak']:.0%} of peak)"
        parts.append(f"ETA {datetime.timedelta(seconds=round(values['eta_s']))}")
    return "  ".join(parts)


def _describe(event) -> str | None:
    """The line an event prints above the bar (or in the log), None for events shown only in the bar."""
    v = event.values
    if event.kind == "start":
        peak = f", measured peak {v['peak_tflops']:,.0f} TFLOP/s" if v["peak_tflops"] else ""
        stop = f"; stopping at step {event.end_step} of {event.total_steps} (--max-steps)" if event.end_step < event.total_steps else ""
        return (
            f"{v['n_train']} training and {v['n_val']} validation samples, {v['steps_per_epoch']} steps per epoch; "
            f"global batch {v['global_batch']} in forward passes of {v['micro_batch']}"
            f"{' (compiled)' if v['compiled'] else ''} on {v['device']}{peak}{stop}"
        )
    if event.kind == "epoch" and v["val_loss"] is not None:
        return f"epoch {event.epoch}: val loss {v['val_loss']:.4g} (step {event.step})"
    if event.kind == "eval":
        scores = ", ".join(
            f"{name} {e['mean']:.4g} [{e['ci95'][0]:.4g}, {e['ci95'][1]:.4g}]" for name, e in v.items() if e["mean"] is not None
        )
        return f"step {event.step} eval: {scores}"
    return None


@contextlib.contextmanager
def _progress(name: str, show: bool) -> Iterator[Callable]:
    """A callback for the trainer's events: a live bar on a terminal; elsewhere (CI logs, pipes) plain
    lines, a logged step at most every `PLAIN_EVERY_SECONDS` (and the last one), so a log shows the run advancing."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    def say(line: str) -> None:
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)

    if not show:
        yield lambda event: None
    elif err_console.is_terminal:
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"))
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task(name, total=None, status="")

            def on_bar(event) -> None:
                bar.update(task, completed=event.step, total=event.end_step)
                if event.kind == "step":
                    bar.update(task, status=_status(event.values))
                line = _describe(event)
                if line:
                    bar.console.print(line, highlight=False, markup=False, soft_wrap=True)

            yield on_bar
    else:
        shown = {"at": -math.inf}  # when the last step line was printed

        def on_line(event) -> None:
            if event.kind == "step":
                now = time.monotonic()
                if now - shown["at"] >= PLAIN_EVERY_SECONDS or event.step == event.end_step:
                    shown["at"] = now
                    say(f"step {event.step}/{event.end_step}: {_status(event.values)}")
            line = _describe(event)
            if line:
                say(line)

        yield on_line


def _print_curation(curation: dict) -> None:
    table = Table(title="curation", title_justify="left")
    for column in ("step", "rule", "in", "kept", "dropped"):
        table.add_column(column, justify="left" if column in ("step", "rule") else "right")
    for s in curation["steps"]:
        table.add_row(s["step"], s["rule"], str(s["n_in"]), str(s["n_kept"]), str(s["n_dropped"]))
    console.print(table)


def train_command(
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    set_: SetOpt = None,
    out: OutDirOpt = None,
    init_from: InitOpt = None,
    resume: ResumeOpt = None,
    max_steps: MaxStepsOpt = None,
    merge: MergeOpt = False,
    compile: CompileOpt = None,
    eval_every: EvalEveryOpt = None,
    eval_data: EvalDataOpt = None,
    eval_limit: EvalLimitOpt = 64,
    log: LogOpt = None,
    force: ForceOpt = False,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Train a model by a recipe (from scratch unless the recipe or --init-from names weights); works under torchrun."""
    overrides = list(set_ or []) + ([f'model.init_from="{init_from}"'] if init_from else [])
    options = RunOptions(
        data, out, max_steps, merge, device, dtype, zoo, json_, compile, eval_every, eval_data, eval_limit, tuple(log or ()), force, threads
    )
    _train(recipe, overrides, resume, options)


def finetune_command(
    variant: Annotated[
        str,
        typer.Argument(metavar="VARIANT", help="The weights to start from: a zoo name, an org/name repo id, or a checkpoint directory."),
    ],
    recipe: RecipeOpt = None,
    data: DataOpt = None,
    set_: SetOpt = None,
    out: OutDirOpt = None,
    max_steps: MaxStepsOpt = None,
    merge: MergeOpt = False,
    compile: CompileOpt = None,
    eval_every: EvalEveryOpt = None,
    eval_data: EvalDataOpt = None,
    eval_limit: EvalLimitOpt = 64,
    log: LogOpt = None,
    force: ForceOpt = False,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Fine-tune VARIANT by a recipe (its architecture must match the recipe's); resume with `stickeval train --resume DIR`."""
    if recipe is None:
        raise typer.BadParameter("give --recipe NAME|FILE, e.g. --recipe sft-large (see `stickeval recipes`).", param_hint="--recipe")
    options = RunOptions(
        data, out, max_steps, merge, device, dtype, zoo, json_, compile, eval_every, eval_data, eval_limit, tuple(log or ()), force, threads
    )
    _train(recipe, [*(set_ or []), f'model.init_from="{variant}"'], None, options)


@app.callback()
def recipes(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """List the packaged recipes; `show NAME` prints one, `cp NAME FILE` copies one to edit."""
    if ctx.invoked_subcommand is not None:
        return
    from stickeval.train import list_recipes, load_recipe

    rows = [{"name": name, "description": load_recipe(name).description} for name in list_recipes()]
    if json_:
        print_json(rows)
        return
    table = Table()
    table.add_column("recipe")
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], row["description"])
    console.print(table)


@app.command("show")
def show(name: Annotated[str, typer.Argument(help="A packaged recipe name or a .toml file.")]) -> None:
    """Print a recipe file as it is, comments included."""
    from stickeval.train import recipe_path

    print(recipe_path(name).read_text(encoding="utf-8"), end="")


@app.command("cp")
def cp(
    name: Annotated[str, typer.Argument(help="A packaged recipe name.")],
    file: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
) -> None:
    """Copy a recipe to FILE, to edit and pass with --recipe FILE."""
    from stickeval._io import atomic_path, check_writable
    from stickeval.train import recipe_path

    source = recipe_path(name)
    check_writable(file, given_as="FILE")  # a directory, a path under a file, a read-only directory: one line
    if file.exists() and not force:
        raise typer.BadParameter(f"{file} exists; pass --force to overwrite it, or choose another FILE.", param_hint="FILE")
    with atomic_path(file) as tmp:
        shutil.copyfile(source, tmp)
    err_console.print(f"Copied {source.name} to {file}; train with `stickeval train --recipe {file}`.", highlight=False)
