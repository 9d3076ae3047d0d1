"""A run directory as the report package sees it: results.json, run.json, cached rollouts, per-sample scores.

Everything is read through the owners' public pieces (the results schema version, the run settings,
`build_suite`, the rollout cache), so a run directory means the same here as to `stickeval score`.
Per-sample scores come from samples.jsonl when the run wrote one (`--log-samples`), else the
paired metrics (rollout against reference, e.g. pose_mse) are computed from the cached rollouts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval.data.suite import Suite
from stickeval.errors import ResultsFileError, RunDirectoryError, UnknownMetricError
from stickeval.evaluation.results import read_results_file

RESULTS_FILE = "results.json"
SAMPLES_FILE = "samples.jsonl"


def read_results(run_dir: str | Path) -> dict:
    """The run's results.json, checked to be a results document of this schema version.

    Raises:
        ResultsFileError: no results.json, unreadable JSON, or another schema version.
    """
    run_dir = Path(run_dir)
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        what = "does not exist" if not run_dir.exists() else "holds no results.json"
        raise ResultsFileError(f"{run_dir} {what}; run `stickeval run VARIANT -o {run_dir}` (or `stickeval score {run_dir}`) first.")
    return read_results_file(path, fix=f"`stickeval score {run_dir}`")


@dataclass(frozen=True)
class RunData:
    """One scored run with its rollouts: what render and report draw from.

    results: results.json.  run: run.json.  suite: the suite it ran on (rebuilt, hash checked).
    motion: float32 [rows, T, D] every cached rollout.  roles: each row's role ("clean", "other",
    "noise:<kind>:<level>", ...).  scores: per clean prompt, {metric: float64 [N]} (NaN: undefined).
    """

    run_dir: Path
    results: dict
    run: dict
    suite: Suite
    motion: np.ndarray
    roles: list[str]
    scores: dict[str, np.ndarray]

    def clean(self) -> np.ndarray:
        """The rollouts of the clean prompts, [N, T, D] in suite order."""
        return self.motion[np.array(self.roles) == "clean"]

    def noisy(self, role: str) -> np.ndarray:
        """The rollouts of the noise subset under `role` ("noise:<kind>:<level>"), [k, T, D]."""
        return self.motion[np.array(self.roles) == role]


def load_run(run_dir: str | Path) -> RunData:
    """Read a scored run directory and its cached rollouts (no model needed).

    Raises:
        ResultsFileError: as `read_results`.
        RunDirectoryError: no or unreadable run.json, a changed suite, missing or corrupt generations.
    """
    from stickeval.evaluation.cache import RolloutCache
    from stickeval.evaluation.run import build_suite, read_run

    run_dir = Path(run_dir)
    results = read_results(run_dir)
    run, settings = read_run(run_dir)
    roles = list(run["roles"])
    suite, _ = build_suite(settings)
    if suite.hash != results["suite"].get("hash"):
        raise RunDirectoryError(f"The suite changed since {run_dir} was generated (hash differs); rerun `stickeval run`.")
    arrays, problems = RolloutCache(run_dir / "generations" / run["cache_key"], len(roles), int(run["chunk_rows"])).read_all()
    if arrays is None:
        raise RunDirectoryError(
            f"{run_dir}: cached generations {problems[0]}; rerun `stickeval run VARIANT -o {run_dir}` (its options as before) to regenerate them."
        )
    motion = arrays["motion"]
    clean = motion[np.array(roles) == "clean"]
    return RunData(run_dir, results, run, suite, motion, roles, _scores(run_dir, suite, clean))


def _scores(run_dir: Path, suite: Suite, generated: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample scores: samples.jsonl when present, else every paired metric computed now."""
    path = run_dir / SAMPLES_FILE
    if path.is_file():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if [r.get("id") for r in rows] == list(suite.ids):
            names = dict.fromkeys(name for r in rows for name in r.get("scores", {}))
            return {n: np.array([np.nan if r["scores"].get(n) is None else r["scores"][n] for r in rows], dtype=np.float64) for n in names}
    from stickeval.metrics import METRICS

    return {
        m.name: np.asarray(m.fn(generated, suite.motion, suite.lengths), dtype=np.float64) for m in METRICS.values() if m.kind == "paired"
    }


def ranked(scores: dict[str, np.ndarray], metric: str, *, worst: bool) -> np.ndarray:
    """Clean-prompt indices ordered best first (or worst first), by `metric`'s direction; undefined values left out.

    Raises:
        UnknownMetricError: `metric` has no per-sample scores here (the message lists those that have;
            samples.jsonl, written by `stickeval score RUN_DIR --log-samples`, holds them all).
    """
    from stickeval.metrics import METRICS

    if metric not in scores:
        raise UnknownMetricError(metric, scores)
    direction = METRICS[metric].higher_is_better if metric in METRICS else None
    if direction is None:
        raise UnknownMetricError(metric, [m for m in scores if m in METRICS and METRICS[m].higher_is_better is not None])
    values = scores[metric]
    defined = np.flatnonzero(np.isfinite(values))
    order = defined[np.argsort(values[defined], kind="stable")]  # ascending
    best_first = order[::-1] if direction else order
    return best_first[::-1] if worst else best_first
