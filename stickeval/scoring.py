"""Scoring a run: every metric of `stickeval.metrics.METRICS` on cached rollouts → results.json.

The metric table drives the scoring: each row's `kind` says what its function is given, its
`reference` whether a reference row is scored too. Each set of clips (the rollouts, the references,
each noise condition) has its motion features computed once and one classifier pass, which every
metric of the table shares. Each figure is a mean with a seeded bootstrap 95% CI and its n. Beside
the model's row, the reference row scores the suite's own clips through the same functions
(classifier accuracy on the held-out references, Fréchet distance of the held-out references to
the train references, their diversity), so every number has a yardstick. Schema of results.json:
`stickeval.results`, docs/results.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stickeval import __version__
from stickeval._io import write_text_atomic
from stickeval.data import load_suite
from stickeval.data.suite import Suite, select, split_of
from stickeval.metrics import METRICS, Metric
from stickeval.metrics.action import ActionClassifier, ActionScores, load_or_fit_classifier, score_actions
from stickeval.metrics.features import motion_features
from stickeval.metrics.stats import Estimate, bootstrap_by_group, bootstrap_ci
from stickeval.results import SCHEMA_VERSION, MetricEntry, Results

N_BOOT = 1000
BREAKDOWN_METRICS = ("pose_mse", "temporal_consistency", "action_accuracy")


def cache_dir() -> Path:
    """Where fitted action classifiers are kept ($STICKEVAL_CACHE, else ~/.cache/stickeval)."""
    root = os.environ.get("STICKEVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stickeval"
    return Path(root)


def _git_hash() -> str | None:
    """The commit of the stickeval checkout this code runs from; None for an installed copy."""
    root = Path(__file__).resolve().parents[1]
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = top.stdout.split()
    if top.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root:
        return None  # not a git checkout, or one that merely encloses an installed copy
    return lines[1]


def _entry(metric: Metric, est: Estimate) -> MetricEntry:
    entry: MetricEntry = {**est.to_dict(), "higher_is_better": metric.higher_is_better, "unit": metric.unit,
                          "card_field": metric.card_field, "description": metric.description}  # fmt: skip
    if not est.defined and metric.undefined:
        entry["note"] = f"undefined: {metric.undefined}"
    return entry


def reference_splits(suite: Suite, settings: dict) -> tuple[Suite, Suite, str | None]:
    """(clips the action classifier learns from, held-out clips for the reference row, a notice).

    A suite's train split trains the classifier and its test split (the suite) is the reference
    row. A user dataset is split by hashed sample id the same way; one too small to split (or whose
    train part misses a label) trains on all its clips, and the notice says the reference row is
    then not independent of the classifier.
    """
    if Path(settings["suite"]).suffix != ".pt":
        return load_suite(settings["suite"], split="train"), suite, None
    in_train = np.array([split_of(i) == "train" for i in suite.ids])
    train, held_out = np.flatnonzero(in_train), np.flatnonzero(~in_train)
    if min(len(train), len(held_out)) >= 2 and set(suite.labels) <= {suite.labels[i] for i in train}:
        return select(suite, train), select(suite, held_out), None
    return suite, suite, (
        "the dataset is too small to split by sample id (or a label occurs only in its test part): the action "
        "classifier was trained on all its clips, so the reference row's accuracy is a training accuracy."
    )


class Clips:
    """A set of clips as the metrics see them: motion, lengths, labels, and what is derived from them
    once (motion features; the action classifier's verdict) and shared by every metric."""

    def __init__(self, motion: np.ndarray, lengths: np.ndarray, labels: list[str], classifier: ActionClassifier):
        self.motion, self.lengths, self.labels, self._classifier = motion, lengths, labels, classifier

    @functools.cached_property
    def features(self) -> np.ndarray:
        return motion_features(self.motion, self.lengths)

    @functools.cached_property
    def actions(self) -> ActionScores:
        return score_actions(self._classifier, self.features, self.labels)


class Inputs:
    """Everything a run's metrics read: the clip sets and the cached arrays of the clean rows."""

    def __init__(self, run: dict, suite: Suite, arrays: dict[str, np.ndarray]):
        self.roles = np.array(run["roles"])
        self.seed = run["settings"]["seed"]
        self.suite = suite
        clean = self.roles == "clean"
        train, held_out, self.split_notice = reference_splits(suite, run["settings"])
        classifier = load_or_fit_classifier(cache_dir() / "classifiers", train.motion, train.labels, train.lengths)
        self.generated = Clips(arrays["motion"][clean], suite.lengths, suite.labels, classifier)
        self.reference = Clips(suite.motion, suite.lengths, suite.labels, classifier)
        self.held_out = self.reference if held_out is suite else Clips(held_out.motion, held_out.lengths, held_out.labels, classifier)
        self.train = self.reference if train is suite else Clips(train.motion, train.lengths, train.labels, classifier)
        self.teacher_forced = arrays["teacher_forced"][clean]
        self.action_logits = arrays["action_logits"][clean].astype(np.float32)
        self.motion = arrays["motion"]
        self.classifier = classifier


# What the function of each per-sample kind is given (module docstring of stickeval.metrics).
PER_SAMPLE: dict[str, Callable[[Metric, Inputs], np.ndarray]] = {
    "paired": lambda m, x: m.fn(x.generated.motion, x.reference.motion, x.reference.lengths),
    "teacher_forced": lambda m, x: m.fn(x.teacher_forced, x.reference.motion, x.reference.lengths),
    "classifier": lambda m, x: m.fn(x.generated.actions),
    "action_head": lambda m, x: m.fn(x.action_logits, x.suite.actions, x.reference.lengths),
}


def _reference_row(metric: Metric, x: Inputs) -> Estimate:
    """The metric on the suite's own clips (`Metric.reference`)."""
    if metric.kind == "set":
        against = x.train if metric.reference == "train" else x.reference
        extra = {"paired": False} if metric.reference == "train" else {}
        return metric.fn(x.held_out.features, against.features, n_boot=N_BOOT, seed=x.seed, **extra)
    return bootstrap_ci(metric.fn(x.held_out.actions), n_boot=N_BOOT, seed=x.seed)  # "classifier"


def score_run(output: Path, run: dict, suite: Suite, arrays: dict[str, np.ndarray], *, log_samples: bool = False) -> Results:
    """Score the rollouts of a run and write `results.json` (and `samples.jsonl`) into `output`."""
    started = time.perf_counter()
    x = Inputs(run, suite, arrays)
    seed = x.seed
    per_sample: dict[str, np.ndarray] = {}
    metrics: dict[str, MetricEntry] = {}
    reference_row: dict[str, dict] = {}
    per_noise, robust = _noise_scores(x)
    for metric in METRICS.values():
        if metric.kind == "set":
            est = metric.fn(x.generated.features, x.reference.features, n_boot=N_BOOT, seed=seed)
        elif metric.kind == "robustness":
            if metric.name not in robust:
                continue  # no noise rows in this run
            est = bootstrap_ci(robust[metric.name], n_boot=N_BOOT, seed=seed, drop_undefined=True)
        else:
            per_sample[metric.name] = PER_SAMPLE[metric.kind](metric, x)
            est = bootstrap_ci(per_sample[metric.name], n_boot=N_BOOT, seed=seed)
        metrics[metric.name] = _entry(metric, est)
        if metric.reference:
            reference_row[metric.name] = _reference_row(metric, x).to_dict()
    per_action = {
        name: {g: e.to_dict() for g, e in bootstrap_by_group(per_sample[name], suite.labels, n_boot=N_BOOT, seed=seed).items()}
        for name in BREAKDOWN_METRICS
    }
    verdict = x.generated.actions
    confusion = {"labels": list(verdict.classes), "matrix": verdict.confusion.tolist()}
    seconds = float(arrays["seconds"].sum())
    n_rows = len(x.roles)
    results: Results = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stickeval", "version": __version__, "git_hash": _git_hash()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {**run["model"], "hash": run["model_hash"]},
        "suite": run["suite"],
        "config": {**run["settings"], "frames": int(suite.motion.shape[1]), "rows": n_rows},
        "metrics": metrics,
        "reference": reference_row,
        "breakdowns": {"per_action": per_action, "per_noise": per_noise, "confusion": confusion},
        "timing": {"generation_seconds": seconds, "sequences_per_second": n_rows / seconds if seconds else None,
                   "rows_generated_now": run["rows_generated_now"], "device_name": run["device_name"],
                   "prepare_seconds": run.get("prepare_seconds"), "fill_seconds": run.get("fill_seconds"),
                   "scoring_seconds": time.perf_counter() - started},
        "notices": run["notices"] + ([x.split_notice] if x.split_notice else []),
    }  # fmt: skip
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    if log_samples:
        _write_samples(output / "samples.jsonl", suite, per_sample)
    return results


def _noise_scores(x: Inputs) -> tuple[dict, dict[str, np.ndarray]]:
    """Per noise kind and level, every "robustness" and "classifier" metric (n = noise prompts each);
    and per "robustness" metric each prompt's value averaged over the 18 conditions, the headline
    figure, whose bootstrap resamples prompts (the conditions of one prompt are not independent)."""
    roles = x.roles
    other = x.motion[roles == "other"]
    if len(other) == 0:
        return {}, {}
    k = len(other)
    anchor = x.motion[roles == "anchor"] if (roles == "anchor").any() else x.generated.motion[:k]
    lengths, labels = x.suite.lengths[:k], x.suite.labels[:k]
    robust = [m for m in METRICS.values() if m.kind == "robustness"]
    judged = [m for m in METRICS.values() if m.kind == "classifier"]
    per_noise: dict[str, dict] = {}
    conditions: dict[str, list[np.ndarray]] = {m.name: [] for m in robust}
    for role in dict.fromkeys(r for r in roles if r.startswith("noise:")):
        _, kind, level = role.split(":")
        noisy = Clips(x.motion[roles == role], lengths, labels, x.classifier)
        entry = per_noise.setdefault(kind, {}).setdefault(level, {})
        for m in robust:
            values = m.fn(noisy.motion, anchor, other, lengths)
            conditions[m.name].append(values)
            entry[m.name] = bootstrap_ci(values, n_boot=N_BOOT, seed=x.seed, drop_undefined=True).to_dict()
        for m in judged:
            entry[m.name] = bootstrap_ci(m.fn(noisy.actions), n_boot=N_BOOT, seed=x.seed).to_dict()
    return per_noise, {name: _mean_over_conditions(np.stack(values)) for name, values in conditions.items()}


def _mean_over_conditions(stacked: np.ndarray) -> np.ndarray:
    """Each prompt's mean over conditions [conditions, k]; NaN where a prompt is undefined in all
    (a prompt's value is NaN in all conditions or none: definedness depends on clean and other only)."""
    defined = ~np.isnan(stacked)
    k = stacked.shape[1]
    return np.divide(np.where(defined, stacked, 0).sum(0), defined.sum(0), out=np.full(k, np.nan), where=defined.any(0))


def _write_samples(path: Path, suite: Suite, per_sample: dict[str, np.ndarray]) -> None:
    lines = []
    for i, sample_id in enumerate(suite.ids):
        scores = {k: (None if not np.isfinite(v[i]) else float(v[i])) for k, v in per_sample.items()}
        lines.append(json.dumps({"id": sample_id, "prompt": suite.prompts[i], "label": suite.labels[i],
                                 "length": int(suite.lengths[i]), "scores": scores}))  # fmt: skip
    write_text_atomic(path, "\n".join(lines) + "\n")
