"""`stickeval compare RUN_DIR...`: a leaderboard of runs on one suite, with CIs and separation marks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    from stickeval.report.compare import LEGEND
    from stickeval.report.compare import compare as compare_api
    from stickeval.report.document import to_html, to_markdown
    from stickeval.report.render import check_output

    format = format or {".md": "md", ".html": "html"}.get(out.suffix.lower() if out else "", "table")
    if format not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}, got {format!r}", param_hint="--format")
    if out is not None:
        if format == "table":
            raise typer.BadParameter("-o writes md or html; name the file .md or .html, or pass --format", param_hint="-o/--out")
        check_output(out, [f".{format}"])
    board = compare_api(run_dirs, by=by, metrics=metric, force=force)
    for notice in board.notices:
        err_console.print(f"[yellow]Notice:[/] {notice}", highlight=False)
    if json_:
        print_json(board.to_dict())
        return
    text = {"md": to_markdown, "html": to_html}[format](board.document()) if format != "table" else None
    if out is not None:
        write_text_atomic(out, text)
        err_console.print(f"Leaderboard: {out}")
    elif text is not None:
        print(text, end="")
    else:
        table = board.table()
        columns = [Column("rank", "right", keep=True), Column("run", keep=True), Column("variant")]
        columns += [Column(m, "right", keep=m == board.by) for m in board.metrics]
        shown, dropped = fit_table(columns, table.rows, title=f"{board.suite.get('name')} (n={board.suite.get('n')}), ranked by {board.by}")
        console.print(shown)
        err_console.print(LEGEND, highlight=False)
        if dropped:
            err_console.print(
                f"Left out to fit the terminal: {', '.join(dropped)} (--format md or --json show every column).", highlight=False
            )
