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
from stickeval.metrics import HEADLINE
from stickeval.report.document import Document, Section, Table
from stickeval.report.report import estimate
from stickeval.report.runs import read_results

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
    """The board: the suite (of the top run), the ranking metric, the columns, the rows best first, and notices."""

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


def compare(
    run_dirs: list[str | Path], *, by: str = "action_accuracy", metrics: list[str] | None = None, force: bool = False
) -> Leaderboard:
    """Rank scored runs of one suite by `by`, each metric with its CI and a separation mark.

    Args:
        run_dirs: scored run directories (each holds a results.json).
        by: the metric to rank by (one with a direction: not diversity).
        metrics: the columns; default the headline metrics (`stickeval.metrics.HEADLINE`) present in the runs.
        force: rank runs of different suites anyway (a notice says so).

    Raises:
        ResultsFileError: a run has no results.json, or one of another schema version.
        SuiteMismatchError: the runs' suites differ (name or hash) and `force` is False.
        UnknownMetricError: `by` or a requested metric is in no run.
    """
    if not run_dirs:
        raise StickevalError("compare needs at least one run directory.")
    runs = {str(d): read_results(d) for d in run_dirs}
    notices = _check_one_suite(runs, force=force)
    directions = _directions(runs)
    columns = metrics or [m for m in HEADLINE if m in directions]
    _check_metrics(by, columns, directions)
    separated = {name: _separated(runs, name, directions[name]) for name in columns}
    ranking = _ranking(runs, by, higher=bool(directions[by]))
    entries = [_entry(run_dir, rank, runs[run_dir], columns, separated) for run_dir, rank in ranking]
    first = runs[ranking[0][0]]["suite"]
    return Leaderboard(dict(first), by, columns, entries, notices)


def _check_one_suite(runs: dict[str, dict], *, force: bool) -> list[str]:
    """The board's notices: none when every run is on one suite (name and hash); else refuse, or with `force` say so.

    Raises:
        SuiteMismatchError: the suites differ and `force` is False.
    """
    suites = {(r["suite"].get("name"), r["suite"].get("hash")) for r in runs.values()}
    if len(suites) == 1:
        return []
    described = "; ".join(f"{d}: {r['suite'].get('name')} (hash {str(r['suite'].get('hash'))[:12]})" for d, r in runs.items())
    if not force:
        raise SuiteMismatchError(
            f"The runs are on different suites, so their numbers are not comparable ({described}). "
            "Compare runs of one suite, or pass --force to rank them anyway."
        )
    return [f"Forced: these runs are on different suites ({described}); their ranks do not compare like with like."]


def _directions(runs: dict[str, dict]) -> dict[str, bool | None]:
    """Every metric of any run, in the order first seen, with its `higher_is_better` as the first run holding it says."""
    directions: dict[str, bool | None] = {}
    for run in runs.values():
        for name, entry in run["metrics"].items():
            directions.setdefault(name, entry.get("higher_is_better"))
    return directions


def _check_metrics(by: str, columns: list[str], directions: dict[str, bool | None]) -> None:
    """Refuse a column or `by` that no run has, and a `by` that cannot rank (no direction, as diversity).

    Raises:
        UnknownMetricError: naming the metrics that would do.
    """
    for name in [by, *columns]:
        if name not in directions:
            raise UnknownMetricError(name, list(directions))
    if directions[by] is None:
        raise UnknownMetricError(by, [m for m, higher in directions.items() if higher is not None])


def _separated(runs: dict[str, dict], name: str, higher: bool | None) -> dict[str, bool]:
    """Per run, whether its 95% CI of `name` misses the best run's: never for the best run itself, a run
    without a value, or a metric without a direction."""
    values = {d: r["metrics"].get(name) for d, r in runs.items()}
    best = None if higher is None else _best(values, higher)
    if best is None:
        return dict.fromkeys(values, False)
    return {d: d != best and _defined(v) and not _overlap(v["ci95"], values[best]["ci95"]) for d, v in values.items()}


def _ranking(runs: dict[str, dict], by: str, *, higher: bool) -> list[tuple[str, int | None]]:
    """Every run with its rank by `by` (1 = best), best first; the runs without a value for it last, unranked (None)."""
    means = {d: (r["metrics"].get(by) or {}).get("mean") for d, r in runs.items()}
    ranked = sorted((d for d, mean in means.items() if mean is not None), key=means.__getitem__, reverse=higher)
    return [(d, i + 1) for i, d in enumerate(ranked)] + [(d, None) for d, mean in means.items() if mean is None]


def _entry(run_dir: str, rank: int | None, run: dict, columns: list[str], separated: dict[str, dict[str, bool]]) -> Entry:
    """One run's row: per column it holds, the mean, CI, n and separation mark."""
    return Entry(
        rank=rank,
        run_dir=run_dir,
        variant=str(run["model"].get("variant")),
        metrics={
            m: {**{k: run["metrics"][m].get(k) for k in ("mean", "ci95", "n")}, "separated": separated[m][run_dir]}
            for m in columns
            if m in run["metrics"]
        },
    )


def _defined(entry: dict | None) -> bool:
    return entry is not None and entry.get("mean") is not None


def _overlap(a: list, b: list) -> bool:
    """Whether two [low, high] intervals overlap; True when a bound is missing (nothing is claimed then)."""
    if None in (*a[:2], *b[:2]):
        return True
    return a[0] <= b[1] and b[0] <= a[1]


def _best(values: dict[str, dict | None], higher: bool) -> str | None:
    """The run with the best defined mean; None when no run has one."""
    defined = {k: v for k, v in values.items() if _defined(v)}
    if not defined:
        return None
    return (max if higher else min)(defined, key=lambda k: defined[k]["mean"])
