"""`stickeval zoo [show NAME]`: the variants, their size, schema, encoder, cache state and card metrics."""

from __future__ import annotations

from typing import Annotated

import typer

from stickeval.cli.options import Command, JsonOpt, ZooOpt
from stickeval.cli.output import Column, console, examples, fit_table, print_fields, print_json

EXAMPLES = examples(
    "stickeval zoo                          # every variant, cache state, card metrics",
    "stickeval zoo show large-sft --json    # one variant as JSON",
    "stickeval zoo --zoo my_variants.toml   # with your own variants added",
)

app = typer.Typer(
    help="List the model zoo: variants, sizes, schema, text encoder, cache state, card metrics.",
    epilog=EXAMPLES,
    invoke_without_command=True,
    rich_markup_mode=None,
)

# Kept columns first; the others are dropped from the right when the table is too wide.
COLUMNS = [
    Column("name", keep=True),
    Column("params", "right", keep=True),
    Column("cached", keep=True),
    Column("schema"),
    Column("encoder"),
    Column("card metrics"),
    Column("repo"),
]


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
    from stickeval import zoo as zoo_api

    docs = [zoo_api.describe_variant(v) for v in zoo_api.list_variants(zoo_file)]
    if json_:
        print_json(docs)
        return
    rows = []
    for doc in docs:
        params = f"{doc['n_params'] / 1e6:.2f}M" if doc["n_params"] else "?"  # exact figures: `zoo show`, --json
        where = doc["repo_id"] or ("package" if doc["source"] == "builtin" else doc["path"])
        rows.append([doc["name"], params, _cached(doc), doc["schema"] or "?", doc["encoder"] or "?", _metrics(doc), where])
    table, dropped = fit_table(COLUMNS, rows, title="Stick-Gen model zoo")
    console.print(table)
    if dropped:
        console.print(
            f"Not shown at {console.width} columns: {', '.join(dropped)}; see `stickeval zoo show NAME` or --json.",
            highlight=False,
            markup=False,
        )
    console.print("params: parameters in millions; cached: revision@commit in the HF cache (`stickeval pull NAME`).", highlight=False)


@app.command("show", epilog=EXAMPLES, cls=Command)
def show(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="A zoo name, an org/name repo id or a local checkpoint directory.", show_default=False)
    ],
    zoo_file: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Show one variant: every zoo field, cache state and card metrics."""
    from stickeval import zoo as zoo_api

    doc = zoo_api.describe_variant(zoo_api.get_variant(name, zoo_file))
    if json_:
        print_json(doc)
        return
    fields = []
    for key, value in doc.items():
        if key == "cached":
            value = _cached(doc)
        elif key == "card_metrics":
            value = _metrics(doc)
        elif isinstance(value, list):
            value = ", ".join(value)
        elif key == "n_params" and isinstance(value, int):
            value = f"{value:,}"
        fields.append((key, "-" if value is None else str(value)))
    print_fields(doc["name"], fields)
