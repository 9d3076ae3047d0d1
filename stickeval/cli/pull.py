"""`stickeval pull NAME`: download a variant into the HF cache, check it loads, print its local path."""

from __future__ import annotations

from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt, RevisionOpt, VariantArg, ZooOpt
from stickeval.cli.output import err_console, examples, print_json

EXAMPLES = examples(
    "# prints the snapshot directory in the HF cache",
    "stickeval pull large-sft",
    "stickeval pull small --revision 3f2a9c1...      # a pinned commit",
    "HF_HUB_OFFLINE=1 stickeval pull large-sft       # check the cache, no network",
    "stickeval pull GesturaAI/stick-gen-medium --json",
)


def pull(
    name: VariantArg,
    revision: RevisionOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even if cached.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Fail if the architecture or parameter count differs from the zoo entry.")
    ] = False,
    zoo_file: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Download a variant (weights, config.json, README.md) into the HF cache and check that it loads."""
    from stickeval import zoo as zoo_api

    pulled = zoo_api.pull(name, revision=revision, force=force, zoo=zoo_file, strict=strict)
    if json_:
        print_json(pulled.to_dict())
        return
    found = pulled.provenance
    where = f"commit {found.commit_sha[:12]}" if found.commit_sha else found.source
    base = f", merged into {found.base.variant}" if found.base else ""
    err_console.print(f"{found.variant}: {where}, {pulled.n_params:,} parameters{base}", highlight=False, markup=False)
    typer.echo(str(found.path))
