"""The `stickeval` command: a thin Typer layer over the Python API.

Each verb lives in its own module (`cli/<verb>.py`) as a plain function that parses flags, calls
the API and prints. This module assembles them and turns `StickevalError` into one line + exit 1.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from stickeval import __version__
from stickeval.cli import bench as _bench
from stickeval.cli import compare as _compare
from stickeval.cli import data as _data
from stickeval.cli import inspect as _inspect
from stickeval.cli import pull as _pull
from stickeval.cli import push as _push
from stickeval.cli import render as _render
from stickeval.cli import report as _report
from stickeval.cli import run as _run
from stickeval.cli import train as _train
from stickeval.cli import zoo as _zoo
from stickeval.cli.output import err_console
from stickeval.errors import StickevalError

app = typer.Typer(
    name="stickeval",
    help="Evaluate, benchmark and manage Stick-Gen text-to-motion models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stickeval {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Evaluate, benchmark and manage Stick-Gen text-to-motion models."""


# Verbs, in the order `stickeval --help` lists them.
app.command("inspect", epilog=_inspect.EXAMPLES)(_inspect.inspect)
app.add_typer(_data.app, name="data")
app.add_typer(_zoo.app, name="zoo")
app.command("pull", epilog=_pull.EXAMPLES)(_pull.pull)
app.command("push", epilog=_push.EXAMPLES)(_push.push)
app.command("run", epilog=_run.RUN_EXAMPLES)(_run.run)
app.command("score", epilog=_run.SCORE_EXAMPLES)(_run.score)
app.command("bench", epilog=_bench.EXAMPLES)(_bench.bench)
app.command("render", epilog=_render.EXAMPLES)(_render.render)
app.command("report", epilog=_report.EXAMPLES)(_report.report)
app.command("compare", epilog=_compare.EXAMPLES)(_compare.compare)
app.command("train", epilog=_train.TRAIN_EXAMPLES)(_train.train_command)
app.command("finetune", epilog=_train.FINETUNE_EXAMPLES)(_train.finetune_command)
app.add_typer(_train.app, name="recipes", epilog=_train.RECIPES_EXAMPLES)


def main(argv: list[str] | None = None) -> None:
    """Entry point. Click handles usage errors (exit 2); a StickevalError becomes one line on stderr
    and exit code 1; any other exception is a bug and keeps its traceback."""
    try:
        app(args=argv, prog_name="stickeval")
    except StickevalError as e:
        if os.environ.get("STICKEVAL_DEBUG"):
            raise
        err_console.print(f"[bold red]Error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        err_console.print("[dim](set STICKEVAL_DEBUG=1 for the full traceback)[/]")
        sys.exit(1)
