"""Scoring a run: every metric of `stickeval.metrics.METRICS` on cached rollouts → results.json.

Each figure is a mean with a seeded bootstrap 95% CI and its n. Beside the model's row, a
reference row scores the suite's own clips through the same pipeline (classifier accuracy on the
references, Fréchet distance of the test references to the train references, their diversity), so
every number has a yardstick. Schema of results.json: `stickeval.results`, docs/results.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import numpy as np

from stickeval import __version__
from stickeval._io import write_text_atomic
from stickeval.data import load_suite
from stickeval.data.suite import Suite
from stickeval.metrics import METRICS, Metric
from stickeval.metrics.action import load_or_fit_classifier
from stickeval.metrics.distribution import diversity_ci, frechet_distance_ci
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
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _entry(metric: Metric, est: Estimate) -> MetricEntry:
    return {**est.to_dict(), "higher_is_better": metric.higher_is_better, "unit": metric.unit, "card_field": metric.card_field}


def classifier_training_set(suite: Suite, settings: dict) -> Suite:
    """The references the action classifier learns from: the suite's train split (a user dataset: itself)."""
    if Path(settings["suite"]).suffix == ".pt":
        return suite
    return load_suite(settings["suite"], split="train")


def score_run(output: Path, run: dict, suite: Suite, arrays: dict[str, np.ndarray], *, log_samples: bool = False) -> Results:
    """Score the rollouts of a run and write `results.json` (and `samples.jsonl`) into `output`."""
    roles = np.array(run["roles"])
    seed = run["settings"]["seed"]
    clean = roles == "clean"
    gen, ref, lengths, labels = arrays["motion"][clean], suite.motion, suite.lengths, suite.labels
    per_sample: dict[str, np.ndarray] = {}
    metrics: dict[str, dict] = {}
    train = classifier_training_set(suite, run["settings"])
    classifier = load_or_fit_classifier(cache_dir() / "classifiers", train.motion, train.labels, train.lengths)
    onehot = np.eye(run["model"]["config"]["num_actions"], dtype=np.float32)[np.maximum(arrays["action_head"][clean], 0)]

    for metric in METRICS.values():
        if metric.kind == "paired":
            values = metric.fn(gen, ref, lengths)
        elif metric.kind == "teacher_forced":
            values = metric.fn(arrays["teacher_forced"][clean], ref, lengths)
        elif metric.kind == "classifier":
            values = metric.fn(classifier, gen, labels, lengths)
        elif metric.kind == "action_head":
            values = metric.fn(onehot, suite.actions, lengths)
        else:
            continue  # robustness and set metrics below
        per_sample[metric.name] = values
        metrics[metric.name] = _entry(metric, bootstrap_ci(values, n_boot=N_BOOT, seed=seed))

    per_noise, robust_values = _noise_scores(roles, arrays["motion"], suite, classifier, seed)
    if robust_values is not None:
        est = bootstrap_ci(robust_values, n_boot=N_BOOT, seed=seed, drop_undefined=True)
        metrics["robustness"] = _entry(METRICS["robustness"], est)
        if not est.defined:
            metrics["robustness"]["note"] = "undefined: rollouts of different prompts are the same (the model ignores its text)"

    gen_f, ref_f = motion_features(gen, lengths), motion_features(ref, lengths)
    train_f = motion_features(train.motion, train.lengths)
    metrics["frechet_distance"] = _entry(METRICS["frechet_distance"], frechet_distance_ci(gen_f, ref_f, n_boot=N_BOOT, seed=seed))
    metrics["diversity"] = _entry(METRICS["diversity"], diversity_ci(gen_f, ref_f, n_boot=N_BOOT, seed=seed))
    reference_row = {
        "action_accuracy": bootstrap_ci(METRICS["action_accuracy"].fn(classifier, ref, labels, lengths), n_boot=N_BOOT, seed=seed).to_dict(),
        "frechet_distance": frechet_distance_ci(ref_f, train_f, n_boot=N_BOOT, seed=seed, paired=False).to_dict(),
        "diversity": diversity_ci(ref_f, ref_f, n_boot=N_BOOT, seed=seed).to_dict(),
    }
    per_action = {
        name: {g: e.to_dict() for g, e in bootstrap_by_group(per_sample[name], labels, n_boot=N_BOOT, seed=seed).items()}
        for name in BREAKDOWN_METRICS
    }
    seconds = float(arrays["seconds"].sum())
    results: Results = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stickeval", "version": __version__, "git_hash": _git_hash()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "model": {**run["model"], "hash": run["model_hash"]},
        "suite": run["suite"],
        "config": {**run["settings"], "frames": int(ref.shape[1]), "rows": int(len(roles))},
        "metrics": metrics,
        "reference": reference_row,
        "breakdowns": {"per_action": per_action, "per_noise": per_noise},
        "timing": {"generation_seconds": seconds, "sequences_per_second": len(roles) / seconds if seconds else None,
                   "rows_generated_now": run["rows_generated_now"]},
        "notices": run["notices"],
    }  # fmt: skip
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    if log_samples:
        _write_samples(output / "samples.jsonl", suite, per_sample)
    return results


def _noise_scores(roles: np.ndarray, motion: np.ndarray, suite: Suite, classifier, seed: int):
    """Per noise kind and level: robustness and classifier accuracy; plus all robustness values pooled."""
    other = motion[roles == "other"]
    if len(other) == 0:
        return {}, None
    k = len(other)
    clean = motion[roles == "clean"][:k]
    lengths, labels = suite.lengths[:k], suite.labels[:k]
    per_noise: dict[str, dict] = {}
    pooled = []
    for role in dict.fromkeys(r for r in roles if r.startswith("noise:")):
        _, kind, level = role.split(":")
        noisy = motion[roles == role]
        rob = METRICS["robustness"].fn(noisy, clean, other, lengths)
        acc = METRICS["action_accuracy"].fn(classifier, noisy, labels, lengths)
        pooled.append(rob)
        per_noise.setdefault(kind, {})[level] = {
            "robustness": bootstrap_ci(rob, n_boot=N_BOOT, seed=seed, drop_undefined=True).to_dict(),
            "action_accuracy": bootstrap_ci(acc, n_boot=N_BOOT, seed=seed).to_dict(),
        }
    return per_noise, np.concatenate(pooled)


def _write_samples(path: Path, suite: Suite, per_sample: dict[str, np.ndarray]) -> None:
    lines = []
    for i, sample_id in enumerate(suite.ids):
        scores = {k: (None if not np.isfinite(v[i]) else float(v[i])) for k, v in per_sample.items()}
        lines.append(json.dumps({"id": sample_id, "prompt": suite.prompts[i], "label": suite.labels[i],
                                 "length": int(suite.lengths[i]), "scores": scores}))  # fmt: skip
    write_text_atomic(path, "\n".join(lines) + "\n")
