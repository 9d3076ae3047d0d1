"""`stickeval validate-metrics`: the validity table (held-out real motion against degenerate families)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt, OutOpt
from stickeval.cli.output import Column, console, examples, fit_table, print_json

EXAMPLES = examples(
    "stickeval validate-metrics                   # StickBench standard, ~1 min",
    "stickeval validate-metrics --suite real      # trains the real evaluator once",
    "stickeval validate-metrics --json | jq .below_real",
    "stickeval validate-metrics --markdown        # the table in docs/metrics.md",
)
SHORT = {
    "real": "real",
    "copy": "copy",
    "first_frame": "first",
    "mean_pose": "mean",
    "white_noise": "noise",
    "shuffled": "shuf",
    "reversed": "rev",
    "jitter": "jitter",
    "smoothed": "smooth",
    "wrong_action": "wrong",
}
FAMILIES_PER_TABLE = 4


def validate_metrics(
    suite: Annotated[str, typer.Option("--suite", help="standard (StickBench) or real (needs ../shared/realmotion).")] = "standard",
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples per figure.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the pairing, the families and the bootstrap.")] = 0,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the table as Markdown (as in docs/metrics.md).")] = False,
    out: OutOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Score held-out real clips and degenerate families of them; say which metrics rank each family below real.

    Writes the table as JSON (default runs/validity/<suite>.json). A mark * after a value: ranked
    below held-out real with non-overlapping 95% CIs; ! : closer to the references than real can be.
    """
    from stickeval._io import check_writable, write_text_atomic
    from stickeval.evaluation.scoring import cache_dir
    from stickeval.evaluation.validity import markdown_table
    from stickeval.evaluation.validity import validate_metrics as validate

    path = out or Path("runs") / "validity" / f"{suite}.json"
    check_writable(path)
    table = validate(suite, cache_dir=cache_dir(), n_boot=n_boot, seed=seed)
    import json

    write_text_atomic(path, json.dumps(table, indent=1) + "\n")
    if json_:
        print_json(table)
        return
    if markdown:
        console.print(markdown_table(table), markup=False, highlight=False, soft_wrap=True)
        return
    _print_table(table)
    console.print(f"Table: {path}", highlight=False)


def _cell(table: dict, family: str, metric: str) -> str:
    value = table["rows"][family][metric]["mean"]
    mark = "*" if metric in table["below_real"].get(family, []) else "!" if metric in table["closer_than_real"].get(family, []) else ""
    return ("—" if value is None else f"{value:.3g}") + mark


def _print_table(table: dict) -> None:
    families = list(table["rows"])
    for start in range(0, len(families), FAMILIES_PER_TABLE):  # 10 families do not fit 80 columns
        shown = families[start : start + FAMILIES_PER_TABLE]
        columns = [Column("metric", keep=True), Column("dir")] + [Column(SHORT.get(f, f), justify="right") for f in shown]
        rows = [[m, {True: "↑", False: "↓", None: "≈"}[hib]] + [_cell(table, f, m) for f in shown] for m, hib in table["metrics"].items()]
        title = f"Validity on {table['suite']} (n={table['n']} pairs)" if start == 0 else None
        rendered, dropped = fit_table(columns, rows, title=title)
        console.print(rendered)
        if dropped:
            console.print(f"(left out to fit: {', '.join(dropped)}; see the JSON)", style="dim")
    for family, metrics in table["below_real"].items():
        console.print(f"{family}: below real on {len(metrics)}/{len(table['metrics'])}: {', '.join(metrics) or 'none'}", highlight=False)
    for family, notices in table["flags"].items():
        for notice in notices:
            console.print(f"flag {family}: {notice}", style="yellow", highlight=False)
