"""`stickeval train`, `stickeval finetune` and `stickeval recipes`: train by a recipe, list and copy recipes.

Heavy imports (torch, the trainer) happen inside the commands, so `stickeval --help` stays fast.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stickeval.cli.options import DeviceOpt, DtypeOpt, JsonOpt, ZooOpt
from stickeval.cli.output import console, err_console, print_json

# Help epilogs; "\b" keeps click from re-wrapping the example lines.
TRAIN_EXAMPLES = """Examples:

\b
  # StickBench, no data file needed
  stickeval train --recipe pretrain-nano -o runs/nano
  stickeval train --recipe pretrain-small --data train.pt \\
      --set optimizer.lr=1e-4 -o runs/small
  stickeval train --recipe my.toml --data train.pt --max-steps 20 -o runs/smoke
  # continue where it stopped
  stickeval train --resume runs/small
"""

FINETUNE_EXAMPLES = """Examples:

\b
  stickeval finetune large --recipe sft-large --data sft.pt -o runs/large-sft
  stickeval finetune small --recipe sft-small --data sft.pt \\
      --set lora.enabled=true -o runs/small-lora
  torchrun --nproc-per-node 4 -m stickeval finetune large \\
      --recipe sft-large --data sft.pt -o runs/large-sft
"""

RECIPES_EXAMPLES = """Examples:

\b
  stickeval recipes                        # the packaged recipes
  stickeval recipes show sft-large         # the file, with its comments
  stickeval recipes cp sft-large my.toml   # edit it, then --recipe my.toml
"""

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

app = typer.Typer(help="List, show and copy training recipes.", invoke_without_command=True)


def _train(
    recipe: str | None,
    overrides: list[str],
    data: Path | None,
    out: Path | None,
    resume: Path | None,
    max_steps: int | None,
    merge: bool,
    device: str | None,
    dtype: str | None,
    zoo: Path | None,
    json_: bool,
) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from stickeval.device import current_rank
    from stickeval.train import load_recipe, train
    from stickeval.train.output import RECIPE_FILE

    if resume is not None and out is not None and out != resume:
        raise typer.BadParameter(
            "--resume continues in its own directory; drop -o/--out, or drop --resume to start a new run.", param_hint="--out"
        )
    if recipe is None and resume is None:
        raise typer.BadParameter("give --recipe NAME|FILE (see `stickeval recipes`), or --resume DIR.", param_hint="--recipe")
    resolved = load_recipe(recipe if recipe is not None else resume / RECIPE_FILE, overrides)
    out = resume or out or Path("runs") / resolved.name
    show = current_rank().is_main and not json_
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, disable=not show) as progress:
        task = progress.add_task(resolved.name, total=None, status="")

        def on_event(event) -> None:
            v = event.values
            if event.kind == "step":
                speed = f"{v['samples_per_s']:.1f} samples/s" if v.get("samples_per_s") else ""
                progress.update(
                    task, completed=event.step, total=event.total_steps, status=f"loss {v['loss']:.4g}  lr {v['lr']:.2e}  {speed}"
                )
            elif event.kind == "epoch" and v["val_loss"] is not None:
                progress.console.print(f"epoch {event.epoch}: val loss {v['val_loss']:.4g} (step {event.step})", highlight=False)
            elif event.kind == "start":
                progress.update(task, completed=event.step, total=event.total_steps)
                progress.console.print(
                    f"{v['n_train']} training and {v['n_val']} validation samples, {v['steps_per_epoch']} steps per epoch", highlight=False
                )

        result = train(
            resolved,
            out,
            data_path=data,
            resume=resume is not None,
            max_steps=max_steps,
            merge=merge,
            device=device,
            dtype=dtype,
            zoo=zoo,
            callback=on_event,
        )
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
    }
    if json_:
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
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Train a model by a recipe (from scratch unless the recipe or --init-from names weights); works under torchrun."""
    overrides = list(set_ or []) + ([f'model.init_from="{init_from}"'] if init_from else [])
    _train(recipe, overrides, data, out, resume, max_steps, merge, device, dtype, zoo, json_)


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
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Fine-tune VARIANT by a recipe (its architecture must match the recipe's); resume with `stickeval train --resume DIR`."""
    if recipe is None:
        raise typer.BadParameter("give --recipe NAME|FILE, e.g. --recipe sft-large (see `stickeval recipes`).", param_hint="--recipe")
    _train(recipe, [*(set_ or []), f'model.init_from="{variant}"'], data, out, None, max_steps, merge, device, dtype, zoo, json_)


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
    from stickeval.train import recipe_path

    source = recipe_path(name)
    if file.exists() and not force:
        raise typer.BadParameter(f"{file} exists; pass --force to overwrite it, or choose another FILE.", param_hint="FILE")
    from stickeval._io import atomic_path

    with atomic_path(file) as tmp:
        shutil.copyfile(source, tmp)
    err_console.print(f"Copied {source.name} to {file}; train with `stickeval train --recipe {file}`.", highlight=False)
