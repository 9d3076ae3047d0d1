"""Flags shared by several verbs: defined once so they mean the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")]
RevisionOpt = Annotated[Optional[str], typer.Option("--revision", help="Git revision (branch, tag or commit sha) on the Hub.")]
ZooOpt = Annotated[Optional[Path], typer.Option("--zoo", help="A TOML file of extra or overriding variants.")]
DeviceOpt = Annotated[Optional[str], typer.Option("--device", help="torch device (default: cuda if available, else cpu).")]
DtypeOpt = Annotated[Optional[str], typer.Option("--dtype", help="bfloat16 or float32 (default: bfloat16 on CUDA, float32 on CPU).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
OutOpt = Annotated[Optional[Path], typer.Option("-o", "--out", help="Output path.")]


def parse_batch_size(value: str) -> int | str:
    """`--batch-size`: "auto" or a positive integer."""
    if value == "auto":
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise typer.BadParameter(f"expected a positive integer or 'auto', got {value!r}", param_hint="--batch-size")
