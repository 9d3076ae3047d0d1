"""`stickeval report RUN_DIR`: one self-contained HTML page (or Markdown) about a scored run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt, OutOpt
from stickeval.cli.output import err_console, examples, print_json

EXAMPLES = examples(
    "# writes runs/large-sft/report.html",
    "stickeval report runs/large-sft",
    "# Markdown for a pull-request comment",
    "stickeval report runs/large-sft --format md -o comment.md",
)


def report(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory written by `stickeval run`.", show_default=False)],
    format: Annotated[str | None, typer.Option("--format", help="html or md (default: from -o's suffix, else html).")] = None,
    out: OutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Write the run's report: identity, metrics with CIs, noise, per action, confusion, physical scores, clips."""
    from stickeval.report.report import write_report

    written = write_report(run_dir, out, format=format)
    if json_:
        print_json(written.__dict__)
        return
    err_console.print(f"Report: {written.path} ({written.bytes / 1e3:.0f} kB)")
