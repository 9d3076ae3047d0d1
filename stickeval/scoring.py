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
from stickeval.data.suite import Suite, select, split_of
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
    return {**est.to_dict(), "higher_is_better": metric.higher_is_better, "unit": metric.unit, "card_field": metric.card_field}


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


def score_run(output: Path, run: dict, suite: Suite, arrays: dict[str, np.ndarray], *, log_samples: bool = False) -> Results:
    """Score the rollouts of a run and write `results.json` (and `samples.jsonl`) into `output`."""
    roles = np.array(run["roles"])
    seed = run["settings"]["seed"]
    clean = roles == "clean"
    gen, ref, lengths, labels = arrays["motion"][clean], suite.motion, suite.lengths, suite.labels
    per_sample: dict[str, np.ndarray] = {}
    metrics: dict[str, dict] = {}
    train, held_out, split_notice = reference_splits(suite, run["settings"])
    classifier = load_or_fit_classifier(cache_dir() / "classifiers", train.motion, train.labels, train.lengths)

    for metric in METRICS.values():
        if metric.kind == "paired":
            values = metric.fn(gen, ref, lengths)
        elif metric.kind == "teacher_forced":
            values = metric.fn(arrays["teacher_forced"][clean], ref, lengths)
        elif metric.kind == "classifier":
            values = metric.fn(classifier, gen, labels, lengths)
        elif metric.kind == "action_head":
            values = metric.fn(arrays["action_logits"][clean].astype(np.float32), suite.actions, lengths)
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
    train_f, held_out_f = motion_features(train.motion, train.lengths), motion_features(held_out.motion, held_out.lengths)
    metrics["frechet_distance"] = _entry(METRICS["frechet_distance"], frechet_distance_ci(gen_f, ref_f, n_boot=N_BOOT, seed=seed))
    metrics["diversity"] = _entry(METRICS["diversity"], diversity_ci(gen_f, ref_f, n_boot=N_BOOT, seed=seed))
    reference_row = {
        "action_accuracy": bootstrap_ci(METRICS["action_accuracy"].fn(classifier, held_out.motion, held_out.labels, held_out.lengths),
                                        n_boot=N_BOOT, seed=seed).to_dict(),
        "frechet_distance": frechet_distance_ci(held_out_f, train_f, n_boot=N_BOOT, seed=seed, paired=False).to_dict(),
        "diversity": diversity_ci(held_out_f, held_out_f, n_boot=N_BOOT, seed=seed).to_dict(),
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
                   "rows_generated_now": run["rows_generated_now"], "device_name": run["device_name"]},
        "notices": run["notices"] + ([split_notice] if split_notice else []),
    }  # fmt: skip
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    if log_samples:
        _write_samples(output / "samples.jsonl", suite, per_sample)
    return results


def _noise_scores(roles: np.ndarray, motion: np.ndarray, suite: Suite, classifier, seed: int):
    """Per noise kind and level: robustness and classifier accuracy (n = noise prompts each);
    plus each prompt's robustness averaged over the 18 conditions, the headline figure, whose
    bootstrap resamples prompts (the conditions of one prompt are not independent samples)."""
    other = motion[roles == "other"]
    if len(other) == 0:
        return {}, None
    k = len(other)
    anchor = motion[roles == "anchor"] if (roles == "anchor").any() else motion[roles == "clean"][:k]
    lengths, labels = suite.lengths[:k], suite.labels[:k]
    per_noise: dict[str, dict] = {}
    conditions = []
    for role in dict.fromkeys(r for r in roles if r.startswith("noise:")):
        _, kind, level = role.split(":")
        noisy = motion[roles == role]
        rob = METRICS["robustness"].fn(noisy, anchor, other, lengths)
        acc = METRICS["action_accuracy"].fn(classifier, noisy, labels, lengths)
        conditions.append(rob)
        per_noise.setdefault(kind, {})[level] = {
            "robustness": bootstrap_ci(rob, n_boot=N_BOOT, seed=seed, drop_undefined=True).to_dict(),
            "action_accuracy": bootstrap_ci(acc, n_boot=N_BOOT, seed=seed).to_dict(),
        }
    stacked = np.stack(conditions)  # [conditions, k]; a prompt's value is NaN in all or none of them
    defined = ~np.isnan(stacked)
    per_prompt = np.divide(np.where(defined, stacked, 0).sum(0), defined.sum(0), out=np.full(k, np.nan), where=defined.any(0))
    return per_noise, per_prompt


def _write_samples(path: Path, suite: Suite, per_sample: dict[str, np.ndarray]) -> None:
    lines = []
    for i, sample_id in enumerate(suite.ids):
        scores = {k: (None if not np.isfinite(v[i]) else float(v[i])) for k, v in per_sample.items()}
        lines.append(json.dumps({"id": sample_id, "prompt": suite.prompts[i], "label": suite.labels[i],
                                 "length": int(suite.lengths[i]), "scores": scores}))  # fmt: skip
    write_text_atomic(path, "\n".join(lines) + "\n")
