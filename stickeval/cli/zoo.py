"""`stickeval zoo [show NAME]`: the variants, their size, schema, encoder, cache state and card metrics."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from stickeval import zoo as zoo_api
from stickeval.cli.options import JsonOpt, ZooOpt
from stickeval.cli.output import console, print_json

EXAMPLES = """
Examples:

  stickeval zoo                              # every variant, whether it is cached, card metrics

  stickeval zoo show large-sft --json        # one variant as JSON

  stickeval zoo --zoo my_variants.toml       # with your own variants added
"""

app = typer.Typer(
    help="List the model zoo: variants, sizes, schema, text encoder, cache state, card metrics.",
    epilog=EXAMPLES,
    invoke_without_command=True,
)


def _cached(doc: dict) -> str:
    cached = doc["cached"]
    if doc["source"] == "builtin":
        return "built in" if cached else "not built yet"
    if doc["source"] == "local":
        return "local"
    if cached is None:
        return "no"
    return f"{cached['revision']}@{cached['commit_sha'][:8]}" if cached["revision"] != cached["commit_sha"] else cached["commit_sha"][:8]


def _metrics(doc: dict) -> str:
    return ", ".join(f"{name}={value:.4g}" for name, value in doc["card_metrics"].items()) or "-"


@app.callback()
def zoo(ctx: typer.Context, zoo_file: ZooOpt = None, json_: JsonOpt = False) -> None:
    """List every variant of the zoo (packaged, plus --zoo FILE)."""
    if ctx.invoked_subcommand is not None:
        return
    docs = [zoo_api.describe_variant(v) for v in zoo_api.list_variants(zoo_file)]
    if json_:
        print_json(docs)
        return
    table = Table(title="Stick-Gen model zoo")
    table.add_column("name", no_wrap=True)
    table.add_column("repo", no_wrap=True)
    table.add_column("params", justify="right", no_wrap=True)
    for column in ("schema", "encoder", "cached", "card metrics"):  # these give way on narrow terminals
        table.add_column(column)
    for doc in docs:
        params = f"{doc['n_params'] / 1e6:.2f}M" if doc["n_params"] else "?"  # exact figures: `zoo show`, --json
        where = doc["repo_id"] or ("package" if doc["source"] == "builtin" else doc["path"])
        table.add_row(doc["name"], where, params, doc["schema"] or "?", doc["encoder"] or "?", _cached(doc), _metrics(doc))
    console.print(table)


@app.command("show", epilog=EXAMPLES)
def show(
    name: Annotated[str, typer.Argument(help="A zoo name, an org/name repo id or a local checkpoint directory.")],
    zoo_file: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show one variant: every zoo field, cache state and card metrics."""
    doc = zoo_api.describe_variant(zoo_api.get_variant(name, zoo_file))
    if json_:
        print_json(doc)
        return
    table = Table(title=doc["name"], show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in doc.items():
        if key == "cached":
            value = _cached(doc)
        elif key == "card_metrics":
            value = _metrics(doc)
        elif isinstance(value, list):
            value = ", ".join(value)
        elif isinstance(value, int) and not isinstance(value, bool) and key == "n_params":
            value = f"{value:,}"
        table.add_row(key, "-" if value is None else str(value))
    console.print(table)
