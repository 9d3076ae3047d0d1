"""`stickeval validate-metrics`: the validity table (held-out real motion against degenerate families) and its coverage verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt, OutOpt
from stickeval.cli.output import Column, console, examples, fit_table, print_json

EXAMPLES = examples(
    "stickeval validate-metrics                   # StickBench standard, ~2 min",
    "stickeval validate-metrics --suite real      # trains the real evaluator once",
    "stickeval validate-metrics --json | jq .uncaught",
    "stickeval validate-metrics --markdown        # the tables in docs/metrics.md",
)
# Column headers of the families in the terminal tables (the JSON and Markdown use the full names).
SHORT = {
    "retrieval": "lookup",
    "first_frame": "first",
    "mean_pose": "mean",
    "white_noise": "noise",
    "shuffled": "shuf",
    "reversed": "rev",
    "smoothed_5": "sm5",
    "smoothed_15": "sm15",
    "smoothed_31": "sm31",
    "jitter_1": "jit1",
    "jitter_5": "jit5",
    "jitter_10": "jit10",
    "limb_swap": "swap",
    "wrong_action": "wrong",
}
FAMILIES_PER_TABLE = 5


def validate_metrics(
    suite: Annotated[str, typer.Option("--suite", help="standard (StickBench) or real (the motion-capture track).")] = "standard",
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples per figure.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the pairing, the families and the bootstrap.")] = 0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the tables as Markdown (as in docs/metrics.md).")] = False,
    saved: Annotated[
        list[Path] | None,
        typer.Option("--from", help="Print the Markdown of tables saved before (repeat for one verdict across suites); scores nothing."),
    ] = None,
    out: OutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Score held-out real clips and degenerate families of them against every metric; say which
    headline metrics catch each family (rank it below held-out real) and which family none catches.

    Writes the table as JSON (default runs/validity/<suite>.json). A mark * after a value: ranked
    below held-out real with non-overlapping 95% CIs; ! : closer to the references than real can be;
    n/a: the metric needs a model's own outputs. † after a family: built from one of the learned
    evaluator's training negatives.
    """
    from stickeval._io import check_writable, write_text_atomic
    from stickeval.evaluation.validity import validate_metrics as validate
    from stickeval.evaluation.validity_markdown import markdown_document, read_table

    if saved:
        console.print(markdown_document([read_table(p) for p in saved]), markup=False, highlight=False, soft_wrap=True)
        return
    path = out or Path("runs") / "validity" / f"{suite}.json"
    check_writable(path)
    table = validate(suite, n_boot=n_boot, seed=seed)
    import json

    write_text_atomic(path, json.dumps(table, indent=1) + "\n")
    if json_:
        print_json(table)
        return
    if markdown:
        console.print(markdown_document([table]), markup=False, highlight=False, soft_wrap=True)
        return
    _print_tables(table)
    _print_verdict(table)
    console.print(f"Table: {path}", highlight=False)


def _cell(part: dict, family: str, metric: str) -> str:
    entry = part["rows"][family][metric]
    if entry.get("note"):
        return "n/a"
    mark = "*" if metric in part["below_real"].get(family, []) else "!" if metric in part["closer_than_real"].get(family, []) else ""
    return ("—" if entry["mean"] is None else f"{entry['mean']:.3g}") + mark


def _print_tables(table: dict) -> None:
    arrows = {True: "↑", False: "↓", None: "≈"}
    for pairing, part in table["pairings"].items():
        if "skipped" in part:
            console.print(f"{pairing}: {part['skipped']}.", style="dim", highlight=False)
            continue
        families = list(part["rows"])
        for start in range(0, len(families), FAMILIES_PER_TABLE):  # 19 families do not fit 80 columns
            shown = families[start : start + FAMILIES_PER_TABLE]
            heads = [SHORT.get(f, f) + ("†" if table["families"][f]["seen_in_training"] else "") for f in shown]
            columns = [Column("metric", keep=True), Column("dir")] + [Column(h, justify="right") for h in heads]
            rows = [[m, arrows[hib]] + [_cell(part, f, m) for f in shown] for m, hib in table["metrics"].items()]
            title = f"Validity on {table['suite']}, {pairing.replace('_', ' ')} (n={part['n']} pairs)" if start == 0 else None
            rendered, dropped = fit_table(columns, rows, title=title)
            console.print(rendered)
            if dropped:
                console.print(f"(left out to fit: {', '.join(dropped)}; see the JSON)", style="dim")


def _print_verdict(table: dict) -> None:
    """Per family, what catches it in each pairing; a red line where nothing does."""
    from stickeval.evaluation.baselines import memorisation_notice
    from stickeval.evaluation.validity import coverage

    console.print(f"Coverage by the headline metrics ({', '.join(table['headline'])}):", style="bold", highlight=False)
    for family, about in table["families"].items():
        for pairing, part in table["pairings"].items():
            if family == "real" or "skipped" in part:
                continue
            caught = coverage(table, pairing, family)
            line = f"{family}{' †' if about['seen_in_training'] else ''} ({pairing.replace('_', ' ')}): {caught}"
            console.print(line, style="bold red" if caught == "uncaught" else None, highlight=False, soft_wrap=True)
            for flag in part["flags"].get(family, []):
                console.print(f"  {memorisation_notice(family, flag)}", style="yellow", highlight=False, soft_wrap=True)
