"""Scoring a run: every metric of `stickeval.metrics.METRICS` on cached rollouts → results.json.

The metric table drives the scoring: each row's `kind` says what its function is given, its
`reference` whether a reference row is scored too. Every row of the results is judged against one
`scoring_setup.ScoringSetup` (the suite's clips, the judge models, the seed), and each row's clips are a
`scoring_setup.ClipSet`, whose features, evaluator embeddings and classifier verdicts are computed once
and shared by every metric. Each figure is a mean with a seeded bootstrap 95% CI and its n. Beside
the model's row:
- the context rows (`baselines.context_families`: another real clip of the prompt's action, a
  text-retrieval lookup, the first frame held, the mean pose, white noise) go through the model
  row's own code (`score_metric`: same prompts, references, lengths, pairing), so every number has the
  rows that give it meaning;
- the reference row scores the suite's own clips (classifier accuracy and retrieval on the held-out
  references, Fréchet distances of the held-out references to the train references, diversity);
- the noise conditions score the rollouts of perturbed prompts (robustness, per noise kind and level);
- the learned evaluator's own held-out figures (`evaluator`), and a memorisation notice when the
  rollouts are closer to the references, or to the train clips, than real clips can be
  (`baselines.memorisation_flags`).
The reference and context rows need no rollouts: `score_suite` scores them on their own (as
`evaluate` does while a GPU generates) and `score_run` takes them.
Schema of results.json: `stickeval.evaluation.results`, docs/results.md.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stickeval._io import write_text_atomic
from stickeval.data.suite import Suite
from stickeval.evaluation.baselines import context_families, memorisation_flags, memorisation_notice
from stickeval.evaluation.results import SCHEMA_VERSION, EvaluatorInfo, MetricEntry, Results
from stickeval.evaluation.scoring_setup import ClipSet, ScoringSetup
from stickeval.judge import Evaluator
from stickeval.metrics import METRICS, Metric
from stickeval.metrics._threads import one_thread
from stickeval.metrics.action import ActionScores
from stickeval.metrics.retrieval import POOL_SIZE
from stickeval.metrics.stats import Estimate, bootstrap_by_group, bootstrap_ci
from stickeval.version import __version__

N_BOOT = 1000
BREAKDOWN_METRICS = ("pose_mse", "temporal_consistency", "action_accuracy")  # broken down per action
MODEL_ONLY = ("teacher_forced", "action_head", "robustness")  # kinds that need a model's outputs: no context rows
NOT_COMPUTED = Estimate(float("nan"), (float("nan"), float("nan")), 0, None)


# What the function of each per-sample kind (`Metric.kind`) is given: the clips scored and the setup they are judged against.
def _paired_with_references(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.motion, setup.reference.motion, setup.reference.lengths)


def _teacher_forced_against_references(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.teacher_forced, setup.reference.motion, setup.reference.lengths)


def _judged_by_classifier(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.actions)


def _judged_by_static_classifier(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.static_actions)


def _retrieved_by_prompt(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.text, clips.embedding, seed=setup.seed)


def _action_head_against_tracks(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.action_logits, setup.suite.actions, setup.reference.lengths)


def _nearest_in_train(metric: Metric, clips: ClipSet, setup: ScoringSetup) -> np.ndarray:
    return metric.fn(clips.motion, clips.lengths, setup.train.motion, setup.train.lengths)


PER_SAMPLE: dict[str, Callable[[Metric, ClipSet, ScoringSetup], np.ndarray]] = {
    "paired": _paired_with_references,
    "teacher_forced": _teacher_forced_against_references,
    "classifier": _judged_by_classifier,
    "static_classifier": _judged_by_static_classifier,
    "retrieval": _retrieved_by_prompt,
    "action_head": _action_head_against_tracks,
    "train_distance": _nearest_in_train,
}


def _unavailable(metric: Metric, setup: ScoringSetup, n: int) -> str | None:
    """Why a metric cannot be computed for n clips of this run (its note), or None when it can."""
    if metric.needs_evaluator and setup.evaluator is None:
        return "no learned evaluator for this data (see the notices)"
    if metric.kind == "retrieval" and n < POOL_SIZE:
        return f"R-precision and matching are scored in pools of {POOL_SIZE} prompts; this run has {n}"
    return None


def score_metric(
    metric: Metric, clips: ClipSet, setup: ScoringSetup, against: ClipSet, *, paired: bool = True, n_boot: int = N_BOOT
) -> tuple[Estimate, np.ndarray | None]:
    """One metric on one row's clips: its Estimate (`n_boot` bootstrap resamples, seeded by the setup)
    and, for per-sample kinds, the per-sample values. A set metric compares the clips with `against`;
    a per-sample kind is given what `PER_SAMPLE` says. The validity table scores its families with it."""
    if metric.kind == "set":
        extra = {} if paired else {"paired": False}  # only the "train" reference rows, all Fréchet distances
        vectors = getattr(clips, metric.space), getattr(against, metric.space)
        return metric.fn(*vectors, n_boot=n_boot, seed=setup.seed, **extra), None
    values = PER_SAMPLE[metric.kind](metric, clips, setup)
    return bootstrap_ci(values, n_boot=n_boot, seed=setup.seed), values


def _reference_row(metric: Metric, setup: ScoringSetup) -> Estimate:
    """The metric on the suite's own clips (`Metric.reference`)."""
    if _unavailable(metric, setup, len(setup.held_out.motion)):
        return NOT_COMPUTED
    if metric.kind == "set":
        against = setup.train if metric.reference == "train" else setup.reference
        return score_metric(metric, setup.held_out, setup, against, paired=metric.reference != "train")[0]
    return score_metric(metric, setup.held_out, setup, setup.reference)[0]


def _reference_rows(setup: ScoringSetup) -> dict[str, dict]:
    """`_reference_row` of every metric that has one, in table order, as results.json stores it."""
    return {m.name: _reference_row(m, setup).to_dict() for m in METRICS.values() if m.reference}


def _fill_shared(setup: ScoringSetup) -> None:
    """Compute the reference clips' vectors that every row's set metrics read (`Metric.space`) before
    the rows run side by side, so that no two threads compute one of them at once."""
    for m in METRICS.values():
        if m.kind == "set" and not _unavailable(m, setup, len(setup.reference.motion)):
            getattr(setup.reference, m.space)


def _context_rows(setup: ScoringSetup, families: dict[str, np.ndarray]) -> dict[str, dict[str, Estimate]]:
    """Every metric a set of clips can be given, for each context family (`baselines.context_families`),
    through the model row's own functions: same prompts, references, lengths and pairing.

    The families are scored side by side in threads (numpy, LAPACK and torch release the GIL): each
    row is its own seeded computation, so the figures do not depend on the order. Called once the
    shared reference clips' vectors are filled (`_fill_shared`). BLAS stays on one thread per row
    (`metrics._threads.one_thread`, entered here once for all the rows)."""

    def row(motion: np.ndarray) -> dict[str, Estimate]:
        clips = setup.clips(motion)
        return {
            m.name: score_metric(m, clips, setup, setup.reference)[0]
            for m in METRICS.values()
            if m.kind not in MODEL_ONLY and not _unavailable(m, setup, len(motion))
        }

    with one_thread(), ThreadPoolExecutor(len(families)) as pool:  # held here, so no row's exit lifts the limit
        return dict(zip(families, pool.map(row, families.values())))


@dataclass
class SuiteScores:
    """The rows of a run's results that no model output enters: the reference row and the context
    rows (results.json `reference`, `baselines`), with the setup they were scored with."""

    setup: ScoringSetup
    reference: dict[str, dict]
    context: dict[str, dict[str, Estimate]]


def score_suite(settings: dict, suite: Suite) -> SuiteScores:
    """Score the reference and context rows of a run: `settings` as run.json stores them (their
    `seed` and `suite` are read), `suite` the clips the run answers.

    `evaluate` calls this in a thread while the model generates on a GPU, and passes the result to
    `score_run`, which otherwise computes the same rows itself: each row is its own seeded
    computation, so the figures are the same either way (tested)."""
    setup = ScoringSetup(settings, suite)
    _fill_shared(setup)
    return _suite_rows(setup)


def _suite_rows(setup: ScoringSetup) -> SuiteScores:
    families = context_families(setup.suite, setup.train_suite, seed=setup.seed)
    with one_thread(), ThreadPoolExecutor(1) as pool:  # held here, so no task's exit lifts the limit
        reference = pool.submit(_reference_rows, setup)
        context = _context_rows(setup, families)
        return SuiteScores(setup, reference.result(), context)


@dataclass
class NoiseScores:
    """The noise conditions' figures: per noise kind and level, every "robustness" and "classifier"
    metric (results.json `breakdowns.per_noise`); and per "robustness" metric each noise prompt's
    value averaged over the conditions (empty in a run without noise rows)."""

    per_condition: dict[str, dict] = field(default_factory=dict)
    per_prompt: dict[str, np.ndarray] = field(default_factory=dict)


def _noise_scores(setup: ScoringSetup, roles: np.ndarray, motion: np.ndarray, rollouts: ClipSet) -> NoiseScores:
    """Score the rollouts of the noise conditions (n = noise prompts each). A prompt's robustness is
    its mean over the 18 conditions, the headline figure, whose bootstrap resamples prompts (the
    conditions of one prompt are not independent).

    `roles` names each row of `motion` (all the run's rollouts); `rollouts` are its clean rows."""
    other = motion[roles == "other"]
    if len(other) == 0:
        return NoiseScores()
    k = len(other)  # noise prompts: the first k of the suite
    anchor = motion[roles == "anchor"] if (roles == "anchor").any() else rollouts.motion[:k]
    lengths, labels, prompts = setup.suite.lengths[:k], setup.suite.labels[:k], setup.suite.prompts[:k]
    robust = [m for m in METRICS.values() if m.kind == "robustness"]
    judged = [m for m in METRICS.values() if m.kind in ("classifier", "static_classifier") and not _unavailable(m, setup, k)]
    scores = NoiseScores()
    conditions: dict[str, list[np.ndarray]] = {m.name: [] for m in robust}
    for role in dict.fromkeys(r for r in roles if r.startswith("noise:")):
        _, kind, level = role.split(":")
        noisy = ClipSet(motion[roles == role], lengths, labels, prompts, setup.judges)
        entry = scores.per_condition.setdefault(kind, {}).setdefault(level, {})
        for m in robust:
            values = m.fn(noisy.motion, anchor, other, lengths)
            conditions[m.name].append(values)
            entry[m.name] = bootstrap_ci(values, n_boot=N_BOOT, seed=setup.seed, drop_undefined=True).to_dict()
        for m in judged:
            entry[m.name] = score_metric(m, noisy, setup, setup.reference)[0].to_dict()
    scores.per_prompt = {name: _mean_over_conditions(np.stack(values)) for name, values in conditions.items()}
    return scores


def _mean_over_conditions(stacked: np.ndarray) -> np.ndarray:
    """Each prompt's mean over conditions [conditions, k]; NaN where a prompt is undefined in all
    (a prompt's value is NaN in all conditions or none: definedness depends on clean and other only)."""
    defined = ~np.isnan(stacked)
    k = stacked.shape[1]
    return np.divide(np.where(defined, stacked, 0).sum(0), defined.sum(0), out=np.full(k, np.nan), where=defined.any(0))


@dataclass
class ModelRow:
    """The model's row: per metric its Estimate, its results.json entry and, for per-sample kinds,
    the per-sample values (the breakdowns and samples.jsonl read them)."""

    estimates: dict[str, Estimate] = field(default_factory=dict)
    entries: dict[str, MetricEntry] = field(default_factory=dict)
    per_sample: dict[str, np.ndarray] = field(default_factory=dict)


def _model_row(setup: ScoringSetup, rollouts: ClipSet, noise: Future[NoiseScores]) -> ModelRow:
    """Every metric of the table on the model's clean rollouts, in table order. A "robustness" metric
    bootstraps the per-prompt means of `noise` (scored beside this row) and is left out of a run
    without noise rows."""
    row = ModelRow()
    for metric in METRICS.values():
        why = _unavailable(metric, setup, len(rollouts.motion))
        if metric.kind == "robustness":
            per_prompt = noise.result().per_prompt
            if metric.name not in per_prompt:
                continue  # no noise rows in this run
            estimate = bootstrap_ci(per_prompt[metric.name], n_boot=N_BOOT, seed=setup.seed, drop_undefined=True)
        elif why:
            estimate = NOT_COMPUTED
        else:
            estimate, values = score_metric(metric, rollouts, setup, setup.reference)
            if values is not None:
                row.per_sample[metric.name] = values
        row.estimates[metric.name] = estimate
        row.entries[metric.name] = _metric_entry(metric, estimate, why)
    return row


def _metric_entry(metric: Metric, estimate: Estimate, why: str | None = None) -> MetricEntry:
    """A metric's results.json entry: its estimate, the table's facts about it, and why it is null."""
    entry: MetricEntry = {
        **estimate.to_dict(),
        "higher_is_better": metric.higher_is_better,
        "unit": metric.unit,
        "card_field": metric.card_field,
        "description": metric.description,
    }
    if why:
        entry["note"] = f"not computed: {why}"
    elif not estimate.defined and metric.undefined:
        entry["note"] = f"undefined: {metric.undefined}"
    return entry


def score_run(
    output: Path,
    run: dict,
    suite: Suite,
    arrays: dict[str, np.ndarray],
    *,
    log_samples: bool = False,
    suite_scores: SuiteScores | None = None,
) -> Results:
    """Score the rollouts of a run and write `results.json` (and `samples.jsonl`) into `output`.

    The model's row is scored here while the noise conditions are scored beside it in a thread, and
    so are the reference and context rows unless `suite_scores` brings them (`score_suite` of this
    run's settings and suite). Each is its own seeded computation: the figures do not depend on the
    order. The reference clips' shared vectors are filled first.

    Raises:
        ValueError: `suite_scores` were scored for another suite or seed.
    """
    started = time.perf_counter()
    if suite_scores and (suite_scores.setup.suite is not suite or suite_scores.setup.seed != run["settings"]["seed"]):
        raise ValueError("suite_scores were scored for another suite or seed than this run's; pass score_suite(run['settings'], suite).")
    setup = suite_scores.setup if suite_scores else ScoringSetup(run["settings"], suite)
    roles, motion = np.array(run["roles"]), arrays["motion"]
    clean = roles == "clean"
    rollouts = setup.clips(
        motion[clean], teacher_forced=arrays["teacher_forced"][clean], action_logits=arrays["action_logits"][clean].astype(np.float32)
    )
    _fill_shared(setup)
    with one_thread(), ThreadPoolExecutor(2) as pool:  # held here, so no task's exit lifts the limit
        noise = pool.submit(_noise_scores, setup, roles, motion, rollouts)
        scored_beside = None if suite_scores else pool.submit(_suite_rows, setup)
        model = _model_row(setup, rollouts, noise)
        per_noise, suite_rows = noise.result().per_condition, suite_scores or scored_beside.result()
    notices = run["notices"] + [n for n in (setup.split_notice, setup.evaluator_notice) if n]
    for flag in memorisation_flags(model.estimates, suite_rows.context["real"]):
        notices.append(memorisation_notice(str(run["model"].get("variant", "the model")), flag))
    seconds, n_rows = float(arrays["seconds"].sum()), len(roles)
    results: Results = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stickeval", "version": __version__, "git_hash": _git_hash()},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": {**run["model"], "hash": run["model_hash"]},
        "suite": run["suite"],
        "config": {**run["settings"], "frames": int(suite.motion.shape[1]), "rows": n_rows},
        "metrics": model.entries,
        "reference": suite_rows.reference,
        "baselines": {name: {m: e.to_dict() for m, e in row.items()} for name, row in suite_rows.context.items()},
        "evaluator": _evaluator_info(setup.evaluator),
        "breakdowns": {
            "per_action": _per_action(model.per_sample, suite.labels, setup.seed),
            "per_noise": per_noise,
            "confusion": _confusion(rollouts.actions, setup),
        },
        "timing": {
            "generation_seconds": seconds,
            "sequences_per_second": n_rows / seconds if seconds else None,
            "rows_generated_now": run["rows_generated_now"],
            "device_name": run["device_name"],
            "prepare_seconds": run.get("prepare_seconds"),
            "fill_seconds": run.get("fill_seconds"),
            "scoring_seconds": time.perf_counter() - started,
        },
        "notices": notices,
    }
    write_text_atomic(output / "results.json", json.dumps(results, indent=2) + "\n")
    if log_samples:
        _write_samples(output / "samples.jsonl", suite, model.per_sample)
    return results


def _per_action(per_sample: dict[str, np.ndarray], labels: list[str], seed: int) -> dict[str, dict[str, dict]]:
    """Each `BREAKDOWN_METRICS` metric's estimate per action label (results.json `breakdowns.per_action`)."""
    return {
        name: {label: e.to_dict() for label, e in bootstrap_by_group(per_sample[name], labels, n_boot=N_BOOT, seed=seed).items()}
        for name in BREAKDOWN_METRICS
        if name in per_sample
    }


def _confusion(verdict: ActionScores, setup: ScoringSetup) -> dict:
    """The action classifier's confusion matrix on the rollouts (rows: true label), and which classifier judged."""
    return {"judge": "time-aware" if setup.evaluator else "static", "labels": list(verdict.classes), "matrix": verdict.confusion.tolist()}


def _evaluator_info(evaluator: Evaluator | None) -> EvaluatorInfo | None:
    """The learned evaluator's domain, version and its own held-out figures; None without one."""
    if evaluator is None:
        return None
    manifest = evaluator.manifest
    return {"domain": manifest.get("domain"), "version": manifest.get("version"), "held_out": manifest.get("held_out")}


def _git_hash() -> str | None:
    """The commit of the stickeval checkout this code runs from; None for an installed copy."""
    root = Path(__file__).resolve().parents[2]  # the directory holding the stickeval package
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = top.stdout.split()
    if top.returncode != 0 or len(lines) != 2 or Path(lines[0]).resolve() != root:
        return None  # not a git checkout, or one that merely encloses an installed copy
    return lines[1]


def _write_samples(path: Path, suite: Suite, per_sample: dict[str, np.ndarray]) -> None:
    """samples.jsonl: one line per suite sample with its id, prompt, label, length and per-sample scores (null where undefined)."""
    lines = []
    for i, sample_id in enumerate(suite.ids):
        scores = {k: (None if not np.isfinite(v[i]) else float(v[i])) for k, v in per_sample.items()}
        lines.append(
            json.dumps(
                {"id": sample_id, "prompt": suite.prompts[i], "label": suite.labels[i], "length": int(suite.lengths[i]), "scores": scores}
            )
        )
    write_text_atomic(path, "\n".join(lines) + "\n")
