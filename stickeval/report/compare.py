"""A leaderboard of several runs on one suite: each figure with its 95% CI, ranked by one metric.

Runs are only comparable on the same prompts: runs whose suites differ (by name or content hash)
are refused unless forced, and a forced board says so in its notices. A cell is marked when its
95% CI does not overlap the CI of the best run for that metric: a separation that the noise of
the suite cannot explain (overlapping CIs do not prove the runs equal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from stickeval.errors import StickevalError, SuiteMismatchError, UnknownMetricError
from stickeval.report.document import Document, Section, Table
from stickeval.report.report import estimate
from stickeval.report.runs import read_results

# The columns a leaderboard shows unless asked for others: the card's metrics and the distribution.
HEADLINE = ("action_accuracy", "pose_mse", "temporal_consistency", "robustness", "frechet_distance", "diversity", "foot_skating")
MARK = "†"  # not "*": two in one Markdown row would turn the text between them italic
LEGEND = f"{MARK}: the 95% CI does not overlap the best run's for that metric."


@dataclass(frozen=True)
class Entry:
    """One run's row: its rank (1 = best by `by`; None when undefined), directory, variant, and per metric
    `{mean, ci95, n, separated}` (separated: its CI misses the best run's)."""

    rank: int | None
    run_dir: str
    variant: str
    metrics: dict[str, dict]


@dataclass(frozen=True)
class Leaderboard:
    suite: dict
    by: str
    metrics: list[str]
    entries: list[Entry]
    notices: list[str]

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self) -> Table:
        """The board as rows of formatted cells (rank, run, variant, one column per metric)."""
        rows = []
        for e in self.entries:
            cells = [estimate(e.metrics.get(m)) + (f" {MARK}" if e.metrics.get(m, {}).get("separated") else "") for m in self.metrics]
            rows.append(["—" if e.rank is None else str(e.rank), e.run_dir, e.variant, *cells])
        return Table(["rank", "run", "variant", *self.metrics], rows, text_columns=(0, 1, 2))

    def document(self) -> Document:
        """The board with its suite, ranking rule, legend and notices, for HTML or Markdown."""
        suite = self.suite
        blocks: list = [
            f"Suite {suite.get('name')} ({suite.get('version')}, hash {str(suite.get('hash'))[:12]}, n = {suite.get('n')}); "
            f"ranked by {self.by}.",
            self.table(),
            LEGEND,
            *self.notices,
        ]
        return Document(f"Leaderboard: {suite.get('name')}", [Section("leaderboard", "Leaderboard", blocks)])


def _overlap(a: list, b: list) -> bool:
    if None in (*a[:2], *b[:2]):
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def _best(values: dict[str, dict], higher: bool) -> str | None:
    defined = {k: v for k, v in values.items() if v and v.get("mean") is not None}
    if not defined:
        return None
    return (max if higher else min)(defined, key=lambda k: defined[k]["mean"])


def compare(
    run_dirs: list[str | Path], *, by: str = "action_accuracy", metrics: list[str] | None = None, force: bool = False
) -> Leaderboard:
    """Rank scored runs of one suite by `by`, each metric with its CI and a separation mark.

    Args:
        run_dirs: scored run directories (each holds a results.json).
        by: the metric to rank by (one with a direction: not diversity).
        metrics: the columns; default `HEADLINE` (those present in the runs).
        force: rank runs of different suites anyway (a notice says so).

    Raises:
        ResultsFileError: a run has no results.json, or one of another schema version.
        SuiteMismatchError: the runs' suites differ (name or hash) and `force` is False.
        UnknownMetricError: `by` or a requested metric is in no run.
    """
    if not run_dirs:
        raise StickevalError("compare needs at least one run directory.")
    docs = {str(d): read_results(d) for d in run_dirs}
    suites = {(r["suite"].get("name"), r["suite"].get("hash")) for r in docs.values()}
    notices = []
    if len(suites) > 1:
        described = "; ".join(f"{d}: {r['suite'].get('name')} (hash {str(r['suite'].get('hash'))[:12]})" for d, r in docs.items())
        if not force:
            raise SuiteMismatchError(
                f"The runs are on different suites, so their numbers are not comparable ({described}). "
                "Compare runs of one suite, or pass --force to rank them anyway."
            )
        notices.append(f"Forced: these runs are on different suites ({described}); their ranks do not compare like with like.")
    present = list(dict.fromkeys(name for r in docs.values() for name in r["metrics"]))
    columns = metrics or [m for m in HEADLINE if m in present]
    for name in [by, *columns]:
        if name not in present:
            raise UnknownMetricError(name, present)
    directions = {name: next(r["metrics"][name].get("higher_is_better") for r in docs.values() if name in r["metrics"]) for name in present}
    if directions[by] is None:
        raise UnknownMetricError(by, [m for m in present if directions[m] is not None])
    separated = {}
    for name in columns:
        values = {d: r["metrics"].get(name) for d, r in docs.items()}
        best = _best(values, bool(directions[name])) if directions[name] is not None else None
        separated[name] = {
            d: best is not None
            and d != best
            and v is not None
            and v.get("mean") is not None
            and not _overlap(v["ci95"], values[best]["ci95"])
            for d, v in values.items()
        }
    by_values = {d: r["metrics"].get(by) or {} for d, r in docs.items()}
    ranked = sorted(
        (d for d in docs if by_values[d].get("mean") is not None), key=lambda d: by_values[d]["mean"], reverse=bool(directions[by])
    )
    order = ranked + [d for d in docs if d not in ranked]
    entries = [
        Entry(
            rank=i + 1 if d in ranked else None,
            run_dir=d,
            variant=str(docs[d]["model"].get("variant")),
            metrics={
                m: {**{k: docs[d]["metrics"][m].get(k) for k in ("mean", "ci95", "n")}, "separated": separated[m][d]}
                for m in columns
                if m in docs[d]["metrics"]
            },
        )
        for i, d in enumerate(order)
    ]
    first = docs[order[0]]["suite"]
    return Leaderboard(dict(first), by, columns, entries, notices)
