"""`stickeval card CARD|VARIANT --results FILE`: set a model card's model-index metrics from a run.

Without a mode flag it prints the diff; `--write` replaces a local card, `--check` exits 1 with the
diff when the card is stale (for CI), `--push` commits the card to its Hub repo. `--eval-results
ORG/NAME` does the same, in the same modes and commit, for the repo's `.eval_results/<benchmark>.yaml`
(the Hub's newer evaluation results for a StickBench benchmark dataset); without it, `--check` also
compares the `.eval_results` files the repo already holds for the run's task. Imports of the
library happen inside the command, so `stickeval --help` does not load torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from stickeval.cli.options import JsonOpt, RevisionOpt, ZooOpt
from stickeval.cli.output import err_console, examples, print_json

if TYPE_CHECKING:
    from stickeval.card.hub_eval import EvalResultsUpdate
    from stickeval.card.model_index import CardUpdate
    from stickeval.card.source import CardSource
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
    "stickeval card large-sft --results runs/large-sft/results.json \\",
    "  --eval-results my-org/stickbench --push",
)


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
    allow_subset: Annotated[
        bool,
        typer.Option(
            "--allow-subset", help="Write results of a --limit run, under a dataset name that says which subset (refused otherwise)."
        ),
    ] = False,
    eval_results: Annotated[
        str | None,
        typer.Option(
            "--eval-results", metavar="ORG/NAME", help="Also write .eval_results/<name>.yaml for this StickBench benchmark dataset."
        ),
    ] = None,
    benchmark_revision: Annotated[
        str | None, typer.Option("--benchmark-revision", help="With --eval-results: the benchmark's revision (default: main).")
    ] = None,
    source_url: Annotated[str | None, typer.Option("--source-url", help="With --eval-results: a link to the run's logs or report.")] = None,
    revision: RevisionOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Set a model card's model-index metrics (mse, temporal_consistency, accuracy, robustness) from a run.

    Everything else in the card stays byte for byte. Prints the diff unless --write, --check or --push.
    """
    _refuse_conflicting_flags(
        write=write,
        check=check,
        push=push,
        create_pr=create_pr,
        eval_results=eval_results,
        benchmark_revision=benchmark_revision,
        source_url=source_url,
    )
    from stickeval.card import model_index
    from stickeval.card import source as card_source

    source = card_source.read_card(card, zoo=zoo, revision=revision)
    if write and source.path is None:
        _refuse(f"{source.label} is a Hub card, which --write cannot replace: use --push to commit it, or pass a local README.md.")
    document = model_index.read_results(results)
    card_source.check_results_match(source, document)
    update = model_index.update_card(source.text, document, dataset_name=dataset_name, dataset_type=dataset_type, allow_subset=allow_subset)
    files = _eval_results_files(source, document, eval_results, benchmark_revision=benchmark_revision, source_url=source_url, check=check)
    for notice in update.notices:
        err_console.print(f"[yellow]Note:[/] {escape(notice)}", highlight=False, soft_wrap=True)
    written = _write_mode(source, update, files) if write else None
    pushed = _push_mode(source, update, files, document, create_pr=create_pr) if push else None
    if json_:
        print_json(_card_json(source, update, files, card_written=write and not update.current, written=written, pushed=pushed))
    else:
        _report_card(update, source.label, check=check, write=write, pushed=pushed, push=push)
        for shown in files.shown:
            _report_eval_results(shown, check=check, written=written, pushed=pushed, push=push)
        if pushed is not None:
            typer.echo(pushed.pr_url or pushed.commit_url)
    if check:
        _check_mode(update, files)


def _refuse(message: str) -> None:
    raise typer.BadParameter(message)


def _refuse_conflicting_flags(
    *,
    write: bool,
    check: bool,
    push: bool,
    create_pr: bool,
    eval_results: str | None,
    benchmark_revision: str | None,
    source_url: str | None,
) -> None:
    """Refuse flags that exclude each other, or that need another flag, before any work."""
    if write and check:
        _refuse("--write and --check exclude each other: use --write to update the card, or --check to test it.")
    if push and check:
        _refuse("--push and --check exclude each other: use --push to commit the updated card, or --check to test it.")
    if create_pr and not push:
        _refuse("--create-pr opens the pull request of a push: add --push, or drop --create-pr.")
    for flag, value in (("--benchmark-revision", benchmark_revision), ("--source-url", source_url)):
        if value is not None and eval_results is None:
            _refuse(f"{flag} goes with --eval-results ORG/NAME: add it, or drop {flag}.")


@dataclass(frozen=True)
class _EvalResultsFiles:
    """The `.eval_results` files this command handles besides the card.

    requested: the file for the benchmark of --eval-results ORG/NAME; None without the flag.
    recorded: with --check and no --eval-results, the files the repo already holds for the run's task.
    """

    requested: EvalResultsUpdate | None
    recorded: list[EvalResultsUpdate]

    @property
    def requested_stale(self) -> bool:
        return self.requested is not None and not self.requested.current

    @property
    def shown(self) -> list[EvalResultsUpdate]:
        return ([self.requested] if self.requested is not None else []) + self.recorded


def _eval_results_files(
    source: CardSource, document: dict, eval_results: str | None, *, benchmark_revision: str | None, source_url: str | None, check: bool
) -> _EvalResultsFiles:
    """--eval-results: the update of that benchmark's file; without it, --check compares the files already recorded."""
    from stickeval.card import source as card_source

    if eval_results is not None:
        requested = card_source.eval_results_update(
            source, document, eval_results, revision=benchmark_revision or "main", source_url=source_url
        )
        return _EvalResultsFiles(requested, [])
    return _EvalResultsFiles(None, card_source.recorded_updates(source, document) if check else [])


def _write_mode(source: CardSource, update: CardUpdate, files: _EvalResultsFiles) -> Path | None:
    """--write: replace the local card when stale, and write the requested `.eval_results` file when stale.

    Returns:
        The `.eval_results` file written, or None.
    """
    from stickeval.card import source as card_source

    if not update.current:
        card_source.write_card(source.path, update.updated)
    return card_source.write_eval_results(source, files.requested) if files.requested_stale else None


def _push_mode(source: CardSource, update: CardUpdate, files: _EvalResultsFiles, document: dict, *, create_pr: bool) -> PushResult | None:
    """--push: commit the stale card and the stale requested `.eval_results` file in one commit (or pull
    request). Returns the push, or None when both are current (nothing is pushed)."""
    from stickeval.card import source as card_source

    if update.current and not files.requested_stale:
        return None
    extra = {files.requested.path: files.requested.updated} if files.requested_stale else None
    return card_source.push_card(source, None if update.current else update.updated, document, create_pr=create_pr, extra=extra)


def _check_mode(update: CardUpdate, files: _EvalResultsFiles) -> None:
    """--check: exit 1 when the card or a compared `.eval_results` file differs from the results (once the diff is printed)."""
    if not update.current or files.requested_stale or any(not u.current for u in files.recorded):
        raise typer.Exit(1)


def _card_json(
    source: CardSource,
    update: CardUpdate,
    files: _EvalResultsFiles,
    *,
    card_written: bool,
    written: Path | None,
    pushed: PushResult | None,
) -> dict:
    """The --json document: the card's changes, what was written or pushed, and each `.eval_results` file."""
    return {
        "card": source.label,
        "dataset": {"name": update.dataset.name, "type": update.dataset.type},
        "current": update.current,
        "changes": [{"where": c.where, "metric": c.metric, "old": c.old, "new": c.new} for c in update.changes],
        "notices": update.notices,
        "written": str(source.path) if card_written else None,
        "push": None if pushed is None else {"commit_sha": pushed.commit_sha, "commit_url": pushed.commit_url, "pr_url": pushed.pr_url},
        "diff": update.diff(),
        "eval_results": None if files.requested is None else _eval_results_json(files.requested, written),
        "recorded_eval_results": [_eval_results_json(u, None) for u in files.recorded],
    }


def _eval_results_json(update: EvalResultsUpdate, written: Path | None) -> dict:
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


def _report_eval_results(update: EvalResultsUpdate, *, check: bool, written: Path | None, pushed: PushResult | None, push: bool) -> None:
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


def _report_card(update: CardUpdate, label: str, *, check: bool, write: bool, pushed: PushResult | None, push: bool) -> None:
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
