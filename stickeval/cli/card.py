"""`stickeval card CARD|VARIANT --results FILE`: set a model card's model-index metrics from a run.

Without a mode flag it prints the diff; `--write` replaces a local card, `--check` exits 1 with the
diff when the card is stale (for CI), `--push` commits the card to its Hub repo. `--eval-results
ORG/NAME` does the same, in the same modes and commit, for the repo's `.eval_results/<benchmark>.yaml`
(the Hub's newer evaluation results for a StickBench benchmark dataset); without it, `--check` also
compares the `.eval_results` files the repo already holds for the run's task. Imports of the
library happen inside the command, so `stickeval --help` does not load torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from stickeval.cli.options import JsonOpt, RevisionOpt, ZooOpt
from stickeval.cli.output import err_console, examples, print_json

if TYPE_CHECKING:
    from stickeval.card.hub_eval import EvalResultsUpdate
    from stickeval.card.model_index import CardUpdate
    from stickeval.hub import PushResult

EXAMPLES = examples(
    "# show what would change in a local card",
    "stickeval card README.md --results runs/large-sft/results.json",
    "# CI guard: exit 1 with the diff when the card is stale",
    "stickeval card README.md --results runs/nano/results.json --check",
    "# a run on the card's own dataset file, committed as a pull request",
    "stickeval card large-sft --results runs/sft/results.json \\",
    "  --dataset-name 'Curated SFT Dataset' --dataset-type motion-capture \\",
    "  --push --create-pr",
    "# also write the run's result for a StickBench benchmark dataset",
    "stickeval card nano --results runs/nano/results.json \\",
    "  --eval-results my-org/stickbench --push",
)


def _refuse(message: str) -> None:
    raise typer.BadParameter(message)


def card(
    card: Annotated[
        str,
        typer.Argument(
            metavar="CARD|VARIANT",
            help="A README.md, a checkpoint directory holding one, or a variant whose Hub repo's card to read.",
            show_default=False,
        ),
    ],
    results: Annotated[Path, typer.Option("--results", help="The results.json of `stickeval run`.", show_default=False)],
    write: Annotated[bool, typer.Option("--write", help="Replace the local card with the updated one (atomically).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 and print the diff when the card differs from the results.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Commit the updated README.md to the Hub repo (needs HF_TOKEN).")] = False,
    create_pr: Annotated[bool, typer.Option("--create-pr", help="With --push: open a pull request instead of committing to main.")] = False,
    dataset_name: Annotated[
        str | None, typer.Option("--dataset-name", help="The card's dataset name, for a run on that dataset's .pt file.")
    ] = None,
    dataset_type: Annotated[str | None, typer.Option("--dataset-type", help="The card's dataset type (with --dataset-name).")] = None,
    eval_results: Annotated[
        str | None,
        typer.Option(
            "--eval-results", metavar="ORG/NAME", help="Also write .eval_results/<name>.yaml for this StickBench benchmark dataset."
        ),
    ] = None,
    benchmark_revision: Annotated[
        str | None, typer.Option("--benchmark-revision", help="With --eval-results: the benchmark's revision (default: main).")
    ] = None,
    source_url: Annotated[
        str | None, typer.Option("--source-url", help="With --eval-results: a link to the run's logs or report.")
    ] = None,
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
    for flag, value in (("--benchmark-revision", benchmark_revision), ("--source-url", source_url)):
        if value is not None and eval_results is None:
            _refuse(f"{flag} goes with --eval-results ORG/NAME: add it, or drop {flag}.")
    from stickeval.card import model_index as card_api
    from stickeval.card import source as card_source

    source = card_source.read_card(card, zoo=zoo, revision=revision)
    if write and source.path is None:
        _refuse(f"{source.label} is a Hub card, which --write cannot replace: use --push to commit it, or pass a local README.md.")
    document = card_api.read_results(results)
    card_source.check_results_match(source, document)
    update = card_api.update_card(source.text, document, dataset_name=dataset_name, dataset_type=dataset_type)
    results_update = None
    if eval_results is not None:
        results_update = card_source.eval_results_update(
            source, document, eval_results, revision=benchmark_revision or "main", source_url=source_url
        )
    # without --eval-results, --check also compares the files the repo already holds for this run's task
    recorded = card_source.recorded_updates(source, document) if check and eval_results is None else []
    results_stale = results_update is not None and not results_update.current
    for notice in update.notices:
        err_console.print(f"[yellow]Note:[/] {escape(notice)}", highlight=False, soft_wrap=True)
    pushed = written = None
    if write and not update.current:
        card_source.write_card(source.path, update.updated)
    if write and results_stale:
        written = card_source.write_eval_results(source, results_update)
    if push and (not update.current or results_stale):
        extra = {results_update.path: results_update.updated} if results_stale else None
        pushed = card_source.push_card(source, None if update.current else update.updated, document, create_pr=create_pr, extra=extra)
    if json_:
        print_json(
            {
                "card": source.label,
                "dataset": {"name": update.dataset.name, "type": update.dataset.type},
                "current": update.current,
                "changes": [{"where": c.where, "metric": c.metric, "old": c.old, "new": c.new} for c in update.changes],
                "notices": update.notices,
                "written": str(source.path) if write and not update.current else None,
                "push": None
                if pushed is None
                else {"commit_sha": pushed.commit_sha, "commit_url": pushed.commit_url, "pr_url": pushed.pr_url},
                "diff": update.diff(),
                "eval_results": None if results_update is None else _results_json(results_update, written),
                "recorded_eval_results": [_results_json(u, None) for u in recorded],
            }
        )
    else:
        _report(update, source.label, check=check, write=write, pushed=pushed, push=push)
        for shown in ([results_update] if results_update is not None else []) + recorded:
            _report_results(shown, check=check, written=written, pushed=pushed, push=push)
        if pushed is not None:
            typer.echo(pushed.pr_url or pushed.commit_url)
    if check and (not update.current or results_stale or any(not u.current for u in recorded)):
        raise typer.Exit(1)


def _results_json(update: EvalResultsUpdate, written: Path | None) -> dict:
    return {
        "path": update.path,
        "benchmark": update.benchmark,
        "revision": update.revision,
        "task_id": update.task_id,
        "current": update.current,
        "entry": update.entry,
        "written": None if written is None else str(written),
        "diff": update.diff(),
    }


def _report_results(update: EvalResultsUpdate, *, check: bool, written: Path | None, pushed: PushResult | None, push: bool) -> None:
    """The `.eval_results` file's diff on stdout (unless written or pushed) and its status line on stderr."""
    what = f"{update.path} ({update.benchmark}, task {update.task_id}, revision {update.revision[:12]})"
    if update.current:
        err_console.print(f"{escape(what)} is current: it holds these results.", highlight=False, soft_wrap=True)
        return
    if not (written or push) or check:
        typer.echo(update.diff(), nl=False)
    if check:
        fix = f"update it with --eval-results {update.benchmark} and --write or --push."
        err_console.print(f"[red]{escape(what)} is stale:[/] {escape(fix)}", highlight=False, soft_wrap=True)
    elif written is not None:
        err_console.print(f"Wrote {escape(str(written))}.", highlight=False, soft_wrap=True)
    elif pushed is not None:
        err_console.print(f"Pushed {escape(what)}: commit {pushed.commit_sha[:12]}", highlight=False, soft_wrap=True)


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
        err_console.print(
            f"[red]{escape(label)} is stale:[/] {len(update.changes)} value(s) differ from the results. Update it with --write or --push.",
            highlight=False,
            soft_wrap=True,
        )
    elif write:
        err_console.print(f"Wrote {escape(label)} ({len(update.changes)} value(s)).", highlight=False, soft_wrap=True)
    elif pushed is not None:
        err_console.print(f"Pushed {escape(label)}: commit {pushed.commit_sha[:12]}", highlight=False, soft_wrap=True)
