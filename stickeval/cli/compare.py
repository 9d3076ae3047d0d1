"""`stickeval compare RUN_DIR...`: a leaderboard of runs on one suite, with CIs and separation marks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stickeval.cli.options import JsonOpt, OutOpt
from stickeval.cli.output import (
    Column,
    console,
    err_console,
    examples,
    fit_table,
    print_json,
)

if TYPE_CHECKING:
    from stickeval.report.compare import Leaderboard

EXAMPLES = examples(
    "stickeval compare runs/small-sft runs/medium-sft runs/large-sft",
    "stickeval compare runs/* --by pose_mse --format md > leaderboard.md",
    "stickeval compare runs/a runs/b -o leaderboard.html",
)

FORMATS = ("table", "md", "html")


def compare(
    run_dirs: Annotated[list[Path], typer.Argument(help="Scored run directories on one suite.")],
    by: Annotated[str, typer.Option("--by", help="The metric to rank by.")] = "action_accuracy",
    metric: Annotated[
        list[str] | None, typer.Option("--metric", help="A column to show (repeatable; default: the headline metrics).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Rank runs of different suites anyway.")] = False,
    format: Annotated[str | None, typer.Option("--format", help="table, md or html (default: from -o's suffix, else table).")] = None,
    out: OutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Rank runs by one metric; every figure with its 95% CI, marked where it is separated from the best."""
    from stickeval._io import write_text_atomic
    from stickeval.report.compare import compare as compare_api
    from stickeval.report.document import to_html, to_markdown

    format = _output_format(format, out)
    board = compare_api(run_dirs, by=by, metrics=metric, force=force)
    for notice in board.notices:
        err_console.print(f"[yellow]Notice:[/] {notice}", highlight=False)
    if json_:
        print_json(board.to_dict())
    elif format == "table":
        _print_table(board)
    else:
        text = {"md": to_markdown, "html": to_html}[format](board.document())
        if out is None:
            print(text, end="")
        else:
            write_text_atomic(out, text)
            err_console.print(f"Leaderboard: {out}")


def _output_format(format: str | None, out: Path | None) -> str:
    """--format, else the one -o's suffix names, else "table"; refused when unknown, or "table" into a file.

    Raises:
        typer.BadParameter: as said; OutputPathError: -o cannot be written (checked before any work).
    """
    from stickeval.report.render import check_output

    format = format or {".md": "md", ".html": "html"}.get(out.suffix.lower() if out else "", "table")
    if format not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}, got {format!r}", param_hint="--format")
    if out is not None:
        if format == "table":
            raise typer.BadParameter("-o writes md or html; name the file .md or .html, or pass --format", param_hint="-o/--out")
        check_output(out, [f".{format}"])
    return format


def _print_table(board: Leaderboard) -> None:
    """The board as a terminal table (columns that do not fit are left out, and named), its legend on stderr."""
    from stickeval.report.compare import LEGEND

    columns = [Column("rank", "right", keep=True), Column("run", keep=True), Column("variant")]
    columns += [Column(m, "right", keep=m == board.by) for m in board.metrics]
    title = f"{board.suite.get('name')} (n={board.suite.get('n')}), ranked by {board.by}"
    shown, dropped = fit_table(columns, board.table().rows, title=title)
    console.print(shown)
    err_console.print(LEGEND, highlight=False)
    if dropped:
        err_console.print(f"Left out to fit the terminal: {', '.join(dropped)} (--format md or --json show every column).", highlight=False)
