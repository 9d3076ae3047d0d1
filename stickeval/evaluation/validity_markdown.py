"""The validity table as Markdown: each pairing's full table, the coverage verdict, each metric's blind
spots and a three-line summary, rendered from the JSON that `validity.validate_metrics` returns and
`stickeval validate-metrics` writes (`read_table` reads it back).

The validity section of docs/metrics.md is `markdown_document` of the standard and real tables;
tests/evaluation/test_validity.py reads its tables back and checks the rest against them. The verdict
logic (what catches a family) is `validity`'s: this module only renders it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stickeval.errors import ResultsFileError, first_line
from stickeval.evaluation.validity import FLAG_NAMES, NOT_APPLICABLE, _columns, _families, catchers, coverage
from stickeval.metrics import METRICS

ARROWS = {True: "↑", False: "↓", None: "≈ real"}


def read_table(path: str | Path) -> dict[str, Any]:
    """A table that `stickeval validate-metrics` wrote (its JSON), to render again.

    Raises:
        ResultsFileError: the file is missing, not JSON, or not a validity table of this stickeval.
    """
    fix = f"write it with `stickeval validate-metrics --suite SUITE -o {path}`"
    try:
        table = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ResultsFileError(f"{path} cannot be read as a validity table ({first_line(e)}); {fix}.") from None
    if not isinstance(table, dict) or not {"suite", "families", "metrics", "pairings"} <= set(table):
        raise ResultsFileError(f"{path} is not a validity table of this stickeval (no suite, families, metrics or pairings); {fix}.")
    return table


def _cell(part: dict[str, Any], family: str, metric: str) -> str:
    """A Markdown cell: value [95% CI]; **bold** below held-out real, ` !` closer to the references than it."""
    e = part["rows"][family][metric]
    if e.get("note"):
        return "n/a"
    if e["mean"] is None:
        return "—"
    text = f"{e['mean']:.3g} [{e['ci95'][0]:.3g}, {e['ci95'][1]:.3g}]"
    if metric in part["below_real"].get(family, []):
        return f"**{text}**"
    return text + " !" if metric in part["closer_than_real"].get(family, []) else text


def markdown_table(table: dict[str, Any], pairing: str) -> str:
    """One pairing's table as Markdown: metrics as rows (headline first), families as columns, and a
    last row of memorisation flags.

    A cell is the value and its 95% CI; **bold** marks a family ranked below held-out real with
    non-overlapping CIs, an `!` one closer to the references than held-out real clips can be, `n/a`
    a metric that needs a model's own outputs. A † after a family: built from one of the evaluator's
    training negatives.
    """
    part = table["pairings"][pairing]
    families = list(part["rows"])
    heads = [f + (" †" if table["families"][f]["seen_in_training"] else "") for f in families]
    lines = ["| metric | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(families)]
    for metric, hib in table["metrics"].items():
        lines.append(f"| {metric} {ARROWS[hib]} | " + " | ".join(_cell(part, f, metric) for f in families) + " |")
    flags = [", ".join(FLAG_NAMES[x] for x in part["flags"].get(f, [])) for f in families]
    lines.append("| memorisation flags | " + " | ".join(flags) + " |")
    return "\n".join(lines) + "\n"


def _seen(tables: list[dict[str, Any]], family: str) -> str:
    return " †" if any(t["families"][family]["seen_in_training"] for t in tables) else ""


def markdown_verdict(tables: list[dict[str, Any]]) -> str:
    """The coverage verdict of one or more suites' tables as Markdown: per family and pairing, what
    catches it (`coverage`), **uncaught** where nothing does. The families seen in the evaluator's
    training come last, marked †: its own metrics catch those by design."""
    columns = _columns(tables)
    lines = ["| family | " + " | ".join(f"{t['suite']}, {p.replace('_', ' ')}" for t, p in columns) + " |"]
    lines.append("|---|" + "---|" * len(columns))
    for family in _families(tables):
        cells = [coverage(t, p, family) for t, p in columns]
        lines.append(f"| {family}{_seen(tables, family)} | " + " | ".join(f"**{c}**" if c == "uncaught" else c for c in cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_blind_spots(tables: list[dict[str, Any]]) -> str:
    """Each metric's blind spots as a Markdown list: the families it does not rank below held-out real
    in some pairing (which, when not all), each with what catches that family wherever this metric
    misses it: the first three headline metrics common to those pairings (in `HEADLINE` order), or its
    memorisation flags."""
    columns = _columns(tables)
    lines = []
    for metric in tables[0]["metrics"]:
        if METRICS[metric].kind in NOT_APPLICABLE:
            continue  # needs a model's own outputs: no family has it
        spots = []
        for family in _families(tables):
            missed = [(t, p) for t, p in columns if metric not in t["pairings"][p]["below_real"][family]]
            if not missed:
                continue
            where = "" if len(missed) == len(columns) else ", ".join(f"{t['suite']} {p.replace('_', ' ')}" for t, p in missed) + "; "
            found = [catchers(t, p, family) for t, p in missed]
            common = [c for c in found[0] if all(c in other for other in found[1:])]
            named = ", ".join(common[:3]) + (", …" if len(common) > 3 else "")
            spots.append(f"{family} ({where}{'caught by ' + named if common else 'nothing else catches it everywhere'})")
        lines.append(f"- `{metric}`: " + ("; ".join(spots) if spots else "catches every family") + ".")
    return "\n".join(lines) + "\n"


def markdown_summary(tables: list[dict[str, Any]]) -> str:
    """The verdict in three sentences (Markdown list): which families nothing catches; which families
    seen in the evaluator's training no headline metric outside its embeddings (`Metric.needs_evaluator`)
    catches, so that their catch rests on its training alone; and which of them the evaluator's own
    retrieval figures (R-precision top-1, matching score) still do not rank below held-out real."""
    columns = _columns(tables)
    uncaught = [f"{f} ({t['suite']} {p.replace('_', ' ')})" for f in _families(tables) for t, p in columns if not catchers(t, p, f)]
    seen = [f for f in _families(tables) if _seen(tables, f)]
    alone = [
        f"{f} ({t['suite']} {p.replace('_', ' ')})"
        for f in seen
        for t, p in columns
        if not [m for m in t["pairings"][p]["caught_by"][f] if not METRICS[m].needs_evaluator]
    ]
    missed = [
        f"{f} ({t['suite']} {p.replace('_', ' ')})"
        for f in seen
        for t, p in columns
        if not {"r_precision_top1", "matching_score"} & set(t["pairings"][p]["below_real"][f])
    ]
    return (
        f"- Caught by no headline metric and no flag: {', '.join(uncaught) or 'none'}.\n"
        f"- Seen in the evaluator's training (†): {', '.join(seen) or 'none'}; of these, caught by no headline metric "
        f"outside the evaluator's embeddings: {', '.join(alone) or 'none'}.\n"
        f"- Not ranked below held-out real by the evaluator's R-precision top-1 or matching score although it was "
        f"trained against them: {', '.join(missed) or 'none'}.\n"
    )


def markdown_document(tables: list[dict[str, Any]]) -> str:
    """The validity section of docs/metrics.md for one or more suites' tables: the coverage verdict,
    each metric's blind spots, then every pairing's full table. Each part follows a marker comment
    (`<!-- validity: ... -->`) by which the docs test finds it."""
    parts = [
        "<!-- validity: verdict -->\n",
        markdown_summary(tables),
        "\n",
        markdown_verdict(tables),
        "\n<!-- validity: blind spots -->\n",
        markdown_blind_spots(tables),
    ]
    for t, p in _columns(tables):
        n = t["pairings"][p]["n"]
        parts += [
            f"\n<!-- validity: {t['suite']} {p} -->\n",
            f"**{t['suite']}, {p.replace('_', ' ')}** ({n} pairs)\n\n",
            markdown_table(t, p),
        ]
    skipped = [
        f"{t['suite']} {p.replace('_', ' ')}: {part['skipped']}." for t in tables for p, part in t["pairings"].items() if "skipped" in part
    ]
    return "".join(parts) + ("\n" + "\n".join(skipped) + "\n" if skipped else "") + "<!-- validity: end -->\n"
