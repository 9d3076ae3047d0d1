"""`stickeval card CARD|VARIANT --results FILE`: set a model card's model-index metrics from a run.

Without a mode flag it prints the diff; `--write` replaces a local card, `--check` exits 1 with the
diff when the card is stale (for CI), `--push` commits the card to its Hub repo. Imports of the
library happen inside the command, so `stickeval --help` does not load torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.markup import escape

from stickeval.cli.options import JsonOpt, RevisionOpt, ZooOpt
from stickeval.cli.output import err_console, examples, print_json

if TYPE_CHECKING:
    from stickeval.card import CardUpdate
    from stickeval.zoo.hub import PushResult

EXAMPLES = examples(
    "# show what would change in a local card",
    "stickeval card README.md --results runs/large-sft/results.json",
    "# CI guard: exit 1 with the diff when the card is stale",
    "stickeval card README.md --results runs/nano/results.json --check",
    "# a run on the card's own dataset file, committed as a pull request",
    "stickeval card large-sft --results runs/sft/results.json \\",
    "  --dataset-name 'Curated SFT Dataset' --dataset-type motion-capture \\",
    "  --push --create-pr",
)


def _refuse(message: str) -> None:
    raise typer.BadParameter(message)


def card(
    card: Annotated[str, typer.Argument(metavar="CARD|VARIANT", help="A README.md, a checkpoint directory holding one, or a variant whose Hub repo's card to read.", show_default=False)],
    results: Annotated[Path, typer.Option("--results", help="The results.json of `stickeval run`.", show_default=False)],
    write: Annotated[bool, typer.Option("--write", help="Replace the local card with the updated one (atomically).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 and print the diff when the card differs from the results.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Commit the updated README.md to the Hub repo (needs HF_TOKEN).")] = False,
    create_pr: Annotated[bool, typer.Option("--create-pr", help="With --push: open a pull request instead of committing to main.")] = False,
    dataset_name: Annotated[Optional[str], typer.Option("--dataset-name", help="The card's dataset name, for a run on that dataset's .pt file.")] = None,
    dataset_type: Annotated[Optional[str], typer.Option("--dataset-type", help="The card's dataset type (with --dataset-name).")] = None,
    revision: RevisionOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Set a model card's model-index metrics (mse, temporal_consistency, accuracy, robustness) from a run.

    Everything else in the card stays byte for byte. Prints the diff unless --write, --check or --push.
    """
    if write and check:
        _refuse("--write and --check exclude each other: use --write to update the card, or --check to test it.")
    if push and check:
        _refuse("--push and --check exclude each other: use --push to commit the updated card, or --check to test it.")
    if create_pr and not push:
        _refuse("--create-pr opens the pull request of a push: add --push, or drop --create-pr.")
    from stickeval import card as card_api
    from stickeval import card_io

    source = card_io.read_card(card, zoo=zoo, revision=revision)
    if write and source.path is None:
        _refuse(f"{source.label} is a Hub card, which --write cannot replace: use --push to commit it, or pass a local README.md.")
    document = card_api.read_results(results)
    card_io.check_results_match(source, document)
    update = card_api.update_card(source.text, document, dataset_name=dataset_name, dataset_type=dataset_type)
    for notice in update.notices:
        err_console.print(f"[yellow]Note:[/] {escape(notice)}", highlight=False, soft_wrap=True)
    pushed = None
    if write and not update.current:
        card_io.write_card(source.path, update.updated)
    if push and not update.current:
        pushed = card_io.push_card(source, update.updated, document, create_pr=create_pr)
    if json_:
        print_json(
            {
                "card": source.label,
                "dataset": {"name": update.dataset.name, "type": update.dataset.type},
                "current": update.current,
                "changes": [{"where": c.where, "metric": c.metric, "old": c.old, "new": c.new} for c in update.changes],
                "notices": update.notices,
                "written": str(source.path) if write and not update.current else None,
                "push": None if pushed is None else {"commit_sha": pushed.commit_sha, "commit_url": pushed.commit_url, "pr_url": pushed.pr_url},
                "diff": update.diff(),
            }
        )
    else:
        _report(update, source.label, check=check, write=write, pushed=pushed, push=push)
    if check and not update.current:
        raise typer.Exit(1)


def _report(update: CardUpdate, label: str, *, check: bool, write: bool, pushed: PushResult | None, push: bool) -> None:
    """The human output: the diff on stdout (unless written or pushed), one status line per change on stderr."""
    if update.current:
        err_console.print(f"{escape(label)} is current: its model-index holds these results.", highlight=False, soft_wrap=True)
        return
    if not (write or push) or check:
        typer.echo(update.diff(), nl=False)
    for change in update.changes:
        err_console.print(f"  {escape(change.describe())}", highlight=False, soft_wrap=True)
    if check:
        err_console.print(f"[red]{escape(label)} is stale:[/] {len(update.changes)} value(s) differ from the results. Update it with --write or --push.", highlight=False, soft_wrap=True)
    elif write:
        err_console.print(f"Wrote {escape(label)} ({len(update.changes)} value(s)).", highlight=False, soft_wrap=True)
    elif pushed is not None:
        err_console.print(f"Pushed {escape(label)}: commit {pushed.commit_sha[:12]}", highlight=False, soft_wrap=True)
        typer.echo(pushed.pr_url or pushed.commit_url)
