"""`stickeval data make|inspect`: write StickBench as a Stick-Gen `.pt` dataset, look inside `.pt` files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stickeval.cli.options import JsonOpt, OutOpt, SeedOpt
from stickeval.cli.output import console, err_console, print_json
from stickeval.data.datasets import describe_dataset, save_dataset, suite_to_samples
from stickeval.data.stickbench import SEED, SIZES, load_suite
from stickeval.text import get_encoder

app = typer.Typer(help="Build and inspect motion datasets.", no_args_is_help=True)

MAKE_EXAMPLES = """
Examples:

  stickeval data make stickbench --size quick -o stickbench_quick_train.pt

  stickeval data make stickbench --size standard --split test --encoder bge-large -o sb_test.pt

  stickeval data make stickbench --size quick --json -o sb.pt | jq .n_samples
"""

INSPECT_EXAMPLES = """
Examples:

  stickeval data inspect sft_data_embedded.pt

  stickeval data inspect sb.pt --json | jq .actions
"""

SOURCES = ("stickbench",)


@app.command("make", epilog=MAKE_EXAMPLES)
def make(
    source: Annotated[str, typer.Argument(help="What to build: stickbench.")],
    out: OutOpt = None,
    size: Annotated[str, typer.Option("--size", help=f"StickBench size: {' or '.join(SIZES)}.")] = "quick",
    split: Annotated[str, typer.Option("--split", help="train or test.")] = "train",
    encoder: Annotated[str, typer.Option("--encoder", help="Text encoder for the embeddings: hash or bge-large.")] = "hash",
    seed: SeedOpt = SEED,
    json_: JsonOpt = False,
) -> None:
    """Write a StickBench split as a Stick-Gen .pt dataset (motion, actions, physics, embeddings)."""
    if source not in SOURCES:
        raise typer.BadParameter(f"unknown source {source!r}; choose from: {', '.join(SOURCES)}.", param_hint="SOURCE")
    if out is None:
        raise typer.BadParameter("give the file to write, e.g. -o stickbench.pt.", param_hint="-o/--out")
    if size not in SIZES:
        raise typer.BadParameter(f"unknown size {size!r}; choose from: {', '.join(SIZES)}.", param_hint="--size")
    suite = load_suite(size, split=split, seed=seed)
    text_encoder = get_encoder(encoder)
    err_console.print(f"Encoding {len(suite)} prompts with {text_encoder.name} ...")
    save_dataset(suite_to_samples(suite, text_encoder.encode(suite.prompts)), out)
    summary = {"path": str(out), "suite": suite.name, "version": suite.version, "split": split, "seed": seed,
               "hash": suite.hash, "n_samples": len(suite), "encoder": text_encoder.name, "embedding_dim": text_encoder.dim}  # fmt: skip
    if json_:
        print_json(summary)
    else:
        console.print(f"Wrote {len(suite)} samples of {suite.name} ({suite.version}, {split}) to {out}")


@app.command("inspect", epilog=INSPECT_EXAMPLES)
def inspect(
    path: Annotated[Path, typer.Argument(help="A Stick-Gen .pt dataset file.")],
    json_: JsonOpt = False,
) -> None:
    """Show a .pt dataset's samples per action and source, lengths, quality scores and bad samples."""
    info = describe_dataset(path)
    if json_:
        print_json(info)
        return
    console.print(f"{path}: {info['n_good']} of {info['n_samples']} samples usable", highlight=False, soft_wrap=True)
    table = Table(show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("motion dim", str(info["motion_dim"]))
    table.add_row("embeddings", f"{info['n_with_embedding']} (dims {info['embedding_dims'] or '-'})")
    if info["length"]:
        table.add_row("frames", "min {min}, median {median:g}, max {max}".format(**info["length"]))
    if info["quality"]:
        q = info["quality"]
        table.add_row("quality_score", f"n {q['n']}, min {q['min']:.2f}, mean {q['mean']:.2f}, max {q['max']:.2f}, ≥ 0.5: {q['n_at_least_0.5']}")
    table.add_row("sources", ", ".join(f"{k} {v}" for k, v in info["sources"].items()))
    table.add_row("actions", ", ".join(f"{k} {v}" for k, v in info["actions"].items()))
    console.print(table)
    for problem in info["problems"]:
        console.print(f"[red]bad[/] {problem}", highlight=False, soft_wrap=True)
