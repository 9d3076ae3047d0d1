"""The `stickeval` command: a thin Typer layer over the Python API.

Adding a verb: write `cli/<verb>.py` with one plain function (or a `typer.Typer()` for a verb with
sub-verbs, like `data` and `zoo`) that parses flags, calls the API and prints; then add one line to
the registration block below, with `cls=Command` (a plain usage line). A verb module imports only
typer, rich and `stickeval.cli.*` (plus `stickeval.errors`) at top level, and imports its API inside
the function: `stickeval --help`, `--version` and usage errors then start in a fraction of a second
instead of paying for torch (tests/cli/test_startup.py checks that `import stickeval.cli` loads no
torch, numpy or huggingface_hub; `make bench` times `stickeval --help`). Shared flags come from
`cli/options.py`, examples are `output.examples(...)`, tables `output.fit_table(...)`.

Exit codes (README "Commands"):
    0    success.
    1    a StickevalError (bad file, unknown variant, Hub failure...) or a failed check: one line
         `Error: ...` on stderr saying what to do, and nothing else (STICKEVAL_DEBUG=1 raises the
         error instead, with its traceback; README "Commands" documents it).
    2    a usage error (unknown flag, missing or malformed argument): one line `Error: ...` naming
         the `--help` to read.
    130  interrupted (Ctrl-C); `run` says how many rollouts are cached and how to resume.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys

import typer
from rich.markup import escape

from stickeval.cli import bench as _bench
from stickeval.cli import card as _card
from stickeval.cli import compare as _compare
from stickeval.cli import data as _data
from stickeval.cli import inspect as _inspect
from stickeval.cli import pull as _pull
from stickeval.cli import push as _push
from stickeval.cli import render as _render
from stickeval.cli import report as _report
from stickeval.cli import run as _run
from stickeval.cli import train as _train
from stickeval.cli import validate as _validate
from stickeval.cli import zoo as _zoo
from stickeval.cli.options import Command
from stickeval.cli.output import err_console
from stickeval.errors import StickevalError
from stickeval.version import __version__

try:  # typer >= 0.2x carries its own copy of click; older typer raises click's own exceptions
    from typer._click import exceptions as _click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as _click_errors

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

app = typer.Typer(
    name="stickeval",
    help="Evaluate, benchmark and manage Stick-Gen text-to-motion models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no boxes or type tags, fits pipes and 80 columns
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


# Verbs, in the order `stickeval --help` lists them: one line each.
app.add_typer(_zoo.app, name="zoo")
app.command("pull", epilog=_pull.EXAMPLES, cls=Command)(_pull.pull)
app.command("push", epilog=_push.EXAMPLES, cls=Command)(_push.push)
app.command("inspect", epilog=_inspect.EXAMPLES, cls=Command)(_inspect.inspect)
app.add_typer(_data.app, name="data")
app.command("run", epilog=_run.RUN_EXAMPLES, cls=Command)(_run.run)
app.command("score", epilog=_run.SCORE_EXAMPLES, cls=Command)(_run.score)
app.command("bench", epilog=_bench.EXAMPLES, cls=Command)(_bench.bench)
app.command("render", epilog=_render.EXAMPLES, cls=Command)(_render.render)
app.command("report", epilog=_report.EXAMPLES, cls=Command)(_report.report)
app.command("compare", epilog=_compare.EXAMPLES, cls=Command)(_compare.compare)
app.command("train", epilog=_train.TRAIN_EXAMPLES, cls=Command)(_train.train_command)
app.command("finetune", epilog=_train.FINETUNE_EXAMPLES, cls=Command)(_train.finetune_command)
app.add_typer(_train.app, name="recipes", epilog=_train.RECIPES_EXAMPLES)
app.command("card", epilog=_card.EXAMPLES, cls=Command)(_card.card)
app.command("validate-metrics", epilog=_validate.EXAMPLES, cls=Command)(_validate.validate_metrics)


def _print_error(message: str, code: int) -> None:
    """`Error: message` as one line on stderr (a message with line breaks is joined), then exit with `code`."""
    message = " ".join(line.strip() for line in message.splitlines() if line.strip())
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    if world_size > 1:  # a torchrun rank: say which, in its output and in torchrun's failure report
        from stickeval.distributed import record_error

        message = f"rank {os.environ.get('RANK', 0)} of {world_size}: {message}"
        record_error(message)
    err_console.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _usage_message(e: _click_errors.UsageError) -> str:
    command = e.ctx.command_path if e.ctx is not None else "stickeval"
    message = e.format_message().strip()
    return f"{message}{'' if message.endswith(('.', '?')) else '.'} See `{command} --help`."


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command, turning user errors into one line on stderr and an exit code.

    See the module docstring for the exit codes. Any exception other than a StickevalError or a
    usage error is a bug and keeps its traceback.
    """
    try:
        code = app(args=argv, prog_name="stickeval", standalone_mode=False)
    except StickevalError as e:
        if os.environ.get("STICKEVAL_DEBUG"):
            raise
        _print_error(str(e), EXIT_ERROR)
    except getattr(_click_errors, "NoArgsIsHelpError", ()) as e:  # `stickeval data`: the help, as click shows it
        e.show()
        sys.exit(EXIT_USAGE)
    except _click_errors.UsageError as e:
        _print_error(_usage_message(e), EXIT_USAGE)
    except _click_errors.ClickException as e:
        _print_error(e.format_message(), e.exit_code)
    except (KeyboardInterrupt, typer.Abort):  # older click turns Ctrl-C into Abort; newer typer returns 130
        err_console.print("Interrupted.", highlight=False)
        sys.exit(EXIT_INTERRUPTED)
    if isinstance(code, int) and code:
        sys.exit(code)
