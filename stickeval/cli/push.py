"""`stickeval push DIR REPO_ID`: upload a checkpoint directory to a Hub repo in one commit."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt
from stickeval.cli.output import err_console, examples, print_json

EXAMPLES = examples(
    "stickeval push runs/finetune-large/final GesturaAI/stick-gen-large-sft",
    "stickeval push runs/finetune-large/final GesturaAI/stick-gen-large-sft --create-pr",
    "HF_ENDPOINT=http://127.0.0.1:8765 stickeval push ckpt/ me/test --private --json",
)


def push(
    directory: Annotated[
        Path,
        typer.Argument(metavar="DIR", help="A directory written by save_checkpoint (weights, config.json, README.md).", show_default=False),
    ],
    repo_id: Annotated[str, typer.Argument(metavar="REPO_ID", help="The Hub repo, org/name; created if missing.", show_default=False)],
    private: Annotated[bool, typer.Option("--private", help="Create the repo private (if it does not exist).")] = False,
    create_pr: Annotated[bool, typer.Option("--create-pr", help="Open a pull request instead of committing to main.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Upload a checkpoint directory to the Hub (needs HF_TOKEN with write access); print the commit or PR URL."""
    from stickeval import zoo as zoo_api

    result = zoo_api.push(directory, repo_id, private=private, create_pr=create_pr)
    if json_:
        print_json(asdict(result))
        return
    err_console.print(f"{repo_id}: commit {result.commit_sha[:12]}", highlight=False, markup=False)
    typer.echo(result.pr_url or result.commit_url)
