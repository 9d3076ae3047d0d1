"""Flags shared by several verbs: defined once as Annotated aliases, so they mean the same everywhere.

Only typer is imported here: `stickeval --help` must not pay for torch. Numbers are range-checked
here, in the option types (`min=`/`max=` or a callback), so an out-of-range value is a usage error
(exit 2) before any work; values that need the library to check (a device, a suite) are checked by
the library, which raises a StickevalError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperCommand


class Command(TyperCommand):
    """A verb whose usage line reads `stickeval run [OPTIONS] VARIANT`: newer typer writes `{VARIANT}`.

    Register every verb with `cls=Command`.
    """

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        """The usage pieces, with the braces newer typer puts around required arguments taken off."""
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in super().collect_usage_pieces(ctx)]


def parse_batch_size(value: str) -> int | str:
    """`--batch-size`: "auto" or a positive integer; anything else is a usage error (exit 2).

    Raises:
        typer.BadParameter: neither.
    """
    if value == "auto":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise typer.BadParameter(f"expected a positive integer or 'auto', got {value!r}.")


VariantArg = Annotated[
    str, typer.Argument(metavar="VARIANT", help="A zoo name, an org/name repo id, or a checkpoint directory.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Git revision (branch, tag or commit sha) on the Hub.")]
ZooOpt = Annotated[Path | None, typer.Option("--zoo", help="A TOML file of extra or overriding variants.")]
DeviceOpt = Annotated[
    str | None, typer.Option("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available, else cpu).")
]
DtypeOpt = Annotated[str | None, typer.Option("--dtype", help="bfloat16 or float32 (default: bfloat16 on CUDA, float32 on CPU).")]
MAX_SEED = 2**32 - 1  # seeds are unsigned 32-bit integers: what numpy's and torch's generators all accept
SeedOpt = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Random seed.")]
OutOpt = Annotated[Path | None, typer.Option("-o", "--out", help="File to write.")]
OutDirOpt = Annotated[Path | None, typer.Option("-o", "--out", help="Directory to write (default: runs/<variant>).")]
BatchSizeOpt = Annotated[
    str,
    typer.Option(
        "--batch-size", help="Prompts per forward pass: a positive integer, or auto (the largest that fits).", callback=parse_batch_size
    ),
]
ThreadsOpt = Annotated[
    int | None,
    typer.Option(
        "--threads",
        min=1,
        help="CPU threads to keep busy (default: OMP_NUM_THREADS, else the CPUs this process may use but one, left to "
        "other processes; `run` scores beside generation on one of its threads).",
        show_default=False,
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Write into -o even when it holds another job's output (replaced) or other files.")]
