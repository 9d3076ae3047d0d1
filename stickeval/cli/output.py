"""Where the CLI writes, and how: data to stdout (tables or one JSON document), everything else to stderr.

Tables must stay readable at 80 columns, in pipes and in CI logs (where rich assumes 80 columns
unless COLUMNS says otherwise): `fit_table` drops the least important columns until the rest fit
unshrunk, instead of letting rich cut headers and names to `s…`, and says what it left out. Lines
on stderr (messages, errors, paths) are never broken by rich: a long path stays one line to copy,
and an error stays one line in a CI log; a terminal wraps them for display.
Imports only rich: `stickeval --help` must not pay for torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def print_json(data: Any) -> None:
    """Print `data` as a single JSON document on stdout (machine-readable, no colours)."""
    print(json.dumps(data, indent=2, default=str))


def print_fields(title: str, fields: list[tuple[str, str]]) -> None:
    """One record as `key value` lines under a title: no box, so nothing is cut at any width."""
    console.print(title, style="bold", highlight=False, markup=False, soft_wrap=True)
    width = max((len(key) for key, _ in fields), default=0)
    for key, value in fields:
        console.print(f"  {key:<{width}}  {value}", highlight=False, markup=False, soft_wrap=True)


def examples(*commands: str) -> str:
    """A command's help epilog: example lines printed as written (click's `\\b` stops re-wrapping).

    Keep each line within 78 characters; put a comment on its own line above the command.
    """
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in commands)


@dataclass(frozen=True)
class Column:
    """A table column: `keep` columns are never dropped; the others go, last first, when the table is too wide."""

    header: str
    justify: str = "left"
    keep: bool = False


def fit_table(
    columns: list[Column], rows: list[list[str]], *, title: str | None = None, width: int | None = None
) -> tuple[Table, list[str]]:
    """A borderless table of `rows` whose kept columns fit `width` (default: the console's) without cutting a cell.

    Returns:
        The table and the headers of the columns dropped to make it fit (empty when all fit).
    """
    width = width or console.width
    shown = list(range(len(columns)))
    while True:
        table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title_justify="left")
        for i in shown:
            table.add_column(columns[i].header, justify=columns[i].justify, no_wrap=True)
        for row in rows:
            table.add_row(*(Text(row[i]) for i in shown))  # cells are data, never markup
        droppable = [i for i in shown if not columns[i].keep]
        natural = console.measure(table, options=console.options.update_width(10_000)).maximum
        if natural <= width or not droppable:
            return table, [columns[i].header for i in range(len(columns)) if i not in shown]
        shown.remove(droppable[-1])
