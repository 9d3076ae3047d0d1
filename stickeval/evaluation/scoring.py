"""Scoring a run: every metric of `stickeval.metrics.METRICS` on cached rollouts → results.json.

The metric table drives the scoring: each row's `kind` says what its function is given, its
`reference` whether a reference row is scored too. Each set of clips (the rollouts, the references,
each noise condition, each context row) has its features, evaluator embeddings and classifier passes
computed once, shared by every metric of the table. Each figure is a mean with a seeded bootstrap 95%
CI and its n. Beside the model's row:
- the context rows (`baselines`: another real clip of the prompt's action, a text-retrieval lookup,
  the first frame held, the mean pose, white noise; `validation.context_families`) go through the
  model row's own code (`_score`: same prompts, references, lengths, pairing), so every number has
  the rows that give it meaning;
- the reference row scores the suite's own clips (classifier accuracy and retrieval on the held-out
  references, Fréchet distances of the held-out references to the train references, diversity);
- the learned evaluator's own held-out figures (`evaluator`), and a memorisation notice when the
  rollouts are closer to the references than real clips can be (`validation.is_memorised`).
The reference and context rows need no rollouts: `score_suite` scores them on their own (as
`evaluate` does while a GPU generates) and `score_run` takes them. The learned evaluator comes from
`stickeval.judge.load_evaluator` (shipped for StickBench, built and cached for the real track);
a user's .pt data has none, and its figures are null with a notice.
Schema of results.json: `stickeval.evaluation.results`, docs/results.md.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval._io import write_text_atomic
from stickeval.data import load_suite
from stickeval.data.suite import Suite, select, split_of
from stickeval.errors import EvaluatorError
from stickeval.evaluation.baselines import context_families, is_memorised, memorisation_notice
from stickeval.evaluation.results import SCHEMA_VERSION, MetricEntry, Results
from stickeval.judge import Evaluator
from stickeval.judge.classifier import ActionClassifier, load_or_fit_classifier
from stickeval.metrics import METRICS, Metric
from stickeval.metrics._threads import one_thread
from stickeval.metrics.action import ActionScores, judge_actions, score_actions
from stickeval.metrics.features import motion_features
from stickeval.metrics.kinematics import kinematic_features
from stickeval.metrics.retrieval import POOL_SIZE
from stickeval.metrics.stats import Estimate, bootstrap_by_group, bootstrap_ci
from stickeval.version import __version__

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


def _entry(metric: Metric, est: Estimate, why: str | None = None) -> MetricEntry:
    entry: MetricEntry = {
        **est.to_dict(),
        "higher_is_better": metric.higher_is_better,
        "unit": metric.unit,
        "card_field": metric.card_field,
        "description": metric.description,
    }
    if why:
        entry["note"] = f"not computed: {why}"
    elif not est.defined and metric.undefined:
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
    return (
        suite,
        suite,
        (
            "the dataset is too small to split by sample id (or a label occurs only in its test part): the action "
            "classifier was trained on all its clips, so the reference row's accuracy is a training accuracy."
        ),
    )


class Judges:
    """What judges the clips: the static feature classifier (fitted on the train split) and the suite's
    learned evaluator (embeddings and the time-aware classifier), None where the data has none."""

    def __init__(self, classifier: ActionClassifier, evaluator: Evaluator | None):
        self.classifier, self.evaluator = classifier, evaluator


class Clips:
    """A set of clips as the metrics see them: motion, lengths, labels, prompts, and what is derived
    from them once (motion and kinematic features, evaluator embeddings, each classifier's verdict)
    and shared by every metric. A model's rollouts also carry its teacher-forced outputs and action
    logits (the "teacher_forced" and "action_head" kinds read them)."""

    def __init__(
        self,
        motion: np.ndarray,
        lengths: np.ndarray,
        labels: list[str],
        prompts: list[str],
        judges: Judges,
        *,
        teacher_forced: np.ndarray | None = None,
        action_logits: np.ndarray | None = None,
    ):
        self.motion, self.lengths, self.labels, self.prompts, self._judges = motion, lengths, labels, prompts, judges
        # a model's other outputs for these prompts, where the clips are a model's rollouts
        self.teacher_forced, self.action_logits = teacher_forced, action_logits

    @functools.cached_property
    def features(self) -> np.ndarray:
        return motion_features(self.motion, self.lengths)

    @functools.cached_property
    def kinematics(self) -> np.ndarray:
        return kinematic_features(self.motion, self.lengths)

    @functools.cached_property
    def embedding(self) -> np.ndarray:
        return self._evaluator.embed_motion(self.motion, self.lengths)

    @functools.cached_property
    def text(self) -> np.ndarray:
        return self._evaluator.embed_text(list(self.prompts))

    @functools.cached_property
    def actions(self) -> ActionScores:
        """The time-aware classifier's verdict; the static classifier's where the data has no evaluator."""
        ev = self._judges.evaluator
        if ev is None:
            return self.static_actions
        return judge_actions(ev.classify(self.motion, self.lengths), ev.classes, self.labels)

    @functools.cached_property
    def static_actions(self) -> ActionScores:
        return score_actions(self._judges.classifier, self.features, self.labels)

    @property
    def _evaluator(self) -> Evaluator:
        assert self._judges.evaluator is not None, "metrics that need the evaluator are skipped without one"
        return self._judges.evaluator


def _load_evaluator(suite_arg: str) -> tuple[Evaluator | None, str | None]:
    """The suite's learned evaluator, or None and the notice that says which figures are null."""
    from stickeval.judge import load_evaluator

    try:
        return load_evaluator(suite_arg, cache_dir=cache_dir()), None
    except EvaluatorError as e:
        return None, (
            f"{e} Here {', '.join(m.name for m in METRICS.values() if m.needs_evaluator)} are null, and "
            "action_accuracy is judged by the static classifier fitted on the data's train split (blind to time order)."
        )


class Judging:
    """What every row of a run is judged against, whatever the model: the suite's clips (the
    references, their held-out and train splits), the judges (classifier, learned evaluator) and
    the seed. Built once per run, before or after generation (`score_suite`)."""

    def __init__(self, settings: dict, suite: Suite):
        self.seed = settings["seed"]
        self.suite = suite
        train, held_out, self.split_notice = reference_splits(suite, settings)
        classifier = load_or_fit_classifier(cache_dir() / "classifiers", train.motion, train.labels, train.lengths)
        evaluator, self.evaluator_notice = _load_evaluator(settings["suite"])
        self.judges = Judges(classifier, evaluator)
        self.reference = self.clips(suite.motion)
        self.held_out = (
            self.reference
            if held_out is suite
            else Clips(held_out.motion, held_out.lengths, held_out.labels, held_out.prompts, self.judges)
        )
        self.train = self.reference if train is suite else Clips(train.motion, train.lengths, train.labels, train.prompts, self.judges)
        self.train_suite = train

    @property
    def evaluator(self) -> Evaluator | None:
        return self.judges.evaluator

    def clips(self, motion: np.ndarray, **model_outputs: np.ndarray) -> Clips:
        """Clips answering the suite's prompts (its lengths, labels and prompts)."""
        return Clips(motion, self.suite.lengths, self.suite.labels, self.suite.prompts, self.judges, **model_outputs)


# What the function of each per-sample kind is given: (metric, the clips scored, what they are judged against).
PER_SAMPLE: dict[str, Callable[[Metric, Clips, Judging], np.ndarray]] = {
    "paired": lambda m, c, x: m.fn(c.motion, x.reference.motion, x.reference.lengths),
    "teacher_forced": lambda m, c, x: m.fn(c.teacher_forced, x.reference.motion, x.reference.lengths),
    "classifier": lambda m, c, x: m.fn(c.actions),
    "static_classifier": lambda m, c, x: m.fn(c.static_actions),
    "retrieval": lambda m, c, x: m.fn(c.text, c.embedding, seed=x.seed),
    "action_head": lambda m, c, x: m.fn(c.action_logits, x.suite.actions, x.reference.lengths),
}
MODEL_ONLY = ("teacher_forced", "action_head", "robustness")  # need a model's outputs: no context rows
NULL = Estimate(float("nan"), (float("nan"), float("nan")), 0, None)


def _unavailable(metric: Metric, x: Judging, n: int) -> str | None:
    """Why a metric cannot be computed for n clips of this run (its note), or None when it can."""
    if metric.needs_evaluator and x.evaluator is None:
        return "no learned evaluator for this data (see the notices)"
    if metric.kind == "retrieval" and n < POOL_SIZE:
        return f"R-precision and matching are scored in pools of {POOL_SIZE} prompts; this run has {n}"
    return None


def _score(metric: Metric, c: Clips, x: Judging, against: Clips, *, paired: bool = True) -> tuple[Estimate, np.ndarray | None]:
    """One metric on one set of clips: its Estimate and, for per-sample kinds, the per-sample values."""
    if metric.kind == "set":
        extra = {} if paired else {"paired": False}  # only the "train" reference rows, all Fréchet distances
        vectors = getattr(c, metric.space), getattr(against, metric.space)
        return metric.fn(*vectors, n_boot=N_BOOT, seed=x.seed, **extra), None
    values = PER_SAMPLE[metric.kind](metric, c, x)
    return bootstrap_ci(values, n_boot=N_BOOT, seed=x.seed), values


def _reference_row(metric: Metric, x: Judging) -> Estimate:
    """The metric on the suite's own clips (`Metric.reference`)."""
    if _unavailable(metric, x, len(x.held_out.motion)):
        return NULL
    if metric.kind == "set":
        against = x.train if metric.reference == "train" else x.reference
        return _score(metric, x.held_out, x, against, paired=metric.reference != "train")[0]
    return _score(metric, x.held_out, x, x.reference)[0]


def _reference_rows(x: Judging) -> dict[str, dict]:
    """`_reference_row` of every metric that has one, in table order, as results.json stores it."""
    return {m.name: _reference_row(m, x).to_dict() for m in METRICS.values() if m.reference}


def _fill_shared(x: Judging) -> None:
    """Compute the reference clips' vectors that every row's set metrics read (`Metric.space`) before
    the rows run side by side, so that no two threads compute one of them at once."""
    for m in METRICS.values():
        if m.kind == "set" and not _unavailable(m, x, len(x.reference.motion)):
            getattr(x.reference, m.space)


def _context_rows(x: Judging, families: dict[str, np.ndarray]) -> dict[str, dict[str, Estimate]]:
    """Every metric a set of clips can be given, for each context family (`validation.context_families`),
    through the model row's own functions: same prompts, references, lengths and pairing.

    The families are scored side by side in threads (numpy, LAPACK and torch release the GIL): each
    row is its own seeded computation, so the figures do not depend on the order. Called once the
    shared reference clips' vectors are filled (`_fill_shared`). BLAS stays on one thread per row
    (`metrics._threads.one_thread`, entered here once for all the rows)."""

    def row(motion: np.ndarray) -> dict[str, Estimate]:
        clips = x.clips(motion)
        return {
            m.name: _score(m, clips, x, x.reference)[0]
            for m in METRICS.values()
            if m.kind not in MODEL_ONLY and not _unavailable(m, x, len(motion))
        }

    with one_thread(), ThreadPoolExecutor(len(families)) as pool:  # held here, so no row's exit lifts the limit
        return dict(zip(families, pool.map(row, families.values())))


@dataclass
class SuiteScores:
    """The rows of a run's results that no model output enters: the reference row and the context
    rows (results.json `reference`, `baselines`), with the judging they were scored with."""

    judging: Judging
    reference: dict[str, dict]
    context: dict[str, dict[str, Estimate]]


def score_suite(settings: dict, suite: Suite) -> SuiteScores:
    """Score the reference and context rows of a run: `settings` as run.json stores them (their
    `seed` and `suite` are read), `suite` the clips the run answers.

    `evaluate` calls this in a thread while the model generates on a GPU, and passes the result to
    `score_run`, which otherwise computes the same rows itself: each row is its own seeded
    computation, so the figures are the same either way (tested)."""
    x = Judging(settings, suite)
    _fill_shared(x)
    return _suite_rows(x)


def _suite_rows(x: Judging) -> SuiteScores:
    families = context_families(x.suite, x.train_suite, seed=x.seed)
    with one_thread(), ThreadPoolExecutor(1) as pool:  # held here, so no task's exit lifts the limit
        reference = pool.submit(_reference_rows, x)
        context = _context_rows(x, families)
        return SuiteScores(x, reference.result(), context)


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
    if suite_scores and (suite_scores.judging.suite is not suite or suite_scores.judging.seed != run["settings"]["seed"]):
        raise ValueError("suite_scores were scored for another suite or seed than this run's; pass score_suite(run['settings'], suite).")
    x = suite_scores.judging if suite_scores else Judging(run["settings"], suite)
    seed = x.seed
    roles, motion = np.array(run["roles"]), arrays["motion"]
    clean = roles == "clean"
    generated = x.clips(
        motion[clean], teacher_forced=arrays["teacher_forced"][clean], action_logits=arrays["action_logits"][clean].astype(np.float32)
    )
    per_sample: dict[str, np.ndarray] = {}
    metrics: dict[str, MetricEntry] = {}
    estimates: dict[str, Estimate] = {}
    _fill_shared(x)
    with one_thread(), ThreadPoolExecutor(2) as pool:  # held here, so no task's exit lifts the limit
        noise = pool.submit(_noise_scores, x, roles, motion, generated)
        side = None if suite_scores else pool.submit(_suite_rows, x)
        for metric in METRICS.values():
            why = _unavailable(metric, x, len(generated.motion))
            if metric.kind == "robustness":
                robust = noise.result()[1]
                if metric.name not in robust:
                    continue  # no noise rows in this run
                est = bootstrap_ci(robust[metric.name], n_boot=N_BOOT, seed=seed, drop_undefined=True)
            elif why:
                est = NULL
            else:
                est, values = _score(metric, generated, x, x.reference)
                if values is not None:
                    per_sample[metric.name] = values
            estimates[metric.name] = est
            metrics[metric.name] = _entry(metric, est, why)
        per_noise, rows = noise.result()[0], suite_scores or side.result()
    per_action = {
        name: {g: e.to_dict() for g, e in bootstrap_by_group(per_sample[name], suite.labels, n_boot=N_BOOT, seed=seed).items()}
        for name in BREAKDOWN_METRICS
        if name in per_sample
    }
    verdict = generated.actions
    confusion = {"judge": "time-aware" if x.evaluator else "static", "labels": list(verdict.classes), "matrix": verdict.confusion.tolist()}
    seconds = float(arrays["seconds"].sum())
    n_rows = len(roles)
    notices = run["notices"] + [n for n in (x.split_notice, x.evaluator_notice) if n]
    if x.evaluator and is_memorised(estimates, rows.context["real"]):
        notices.append(memorisation_notice(str(run["model"].get("variant", "the model"))))
    evaluator = (
        None
        if x.evaluator is None
        else {
            "domain": x.evaluator.manifest.get("domain"),
            "version": x.evaluator.manifest.get("version"),
            "held_out": x.evaluator.manifest.get("held_out"),
        }
    )
    results: Results = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "stickeval", "version": __version__, "git_hash": _git_hash()},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": {**run["model"], "hash": run["model_hash"]},
        "suite": run["suite"],
        "config": {**run["settings"], "frames": int(suite.motion.shape[1]), "rows": n_rows},
        "metrics": metrics,
        "reference": rows.reference,
        "baselines": {name: {m: e.to_dict() for m, e in row.items()} for name, row in rows.context.items()},
        "evaluator": evaluator,
        "breakdowns": {"per_action": per_action, "per_noise": per_noise, "confusion": confusion},
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
        _write_samples(output / "samples.jsonl", suite, per_sample)
    return results


def _noise_scores(x: Judging, roles: np.ndarray, motion: np.ndarray, generated: Clips) -> tuple[dict, dict[str, np.ndarray]]:
    """Per noise kind and level, every "robustness" and "classifier" metric (n = noise prompts each);
    and per "robustness" metric each prompt's value averaged over the 18 conditions, the headline
    figure, whose bootstrap resamples prompts (the conditions of one prompt are not independent).

    `roles` names each row of `motion` (all the run's rollouts); `generated` are its clean rows."""
    other = motion[roles == "other"]
    if len(other) == 0:
        return {}, {}
    k = len(other)
    anchor = motion[roles == "anchor"] if (roles == "anchor").any() else generated.motion[:k]
    lengths, labels = x.suite.lengths[:k], x.suite.labels[:k]
    robust = [m for m in METRICS.values() if m.kind == "robustness"]
    judged = [m for m in METRICS.values() if m.kind in ("classifier", "static_classifier") and not _unavailable(m, x, k)]
    per_noise: dict[str, dict] = {}
    conditions: dict[str, list[np.ndarray]] = {m.name: [] for m in robust}
    for role in dict.fromkeys(r for r in roles if r.startswith("noise:")):
        _, kind, level = role.split(":")
        noisy = Clips(motion[roles == role], lengths, labels, x.suite.prompts[:k], x.judges)
        entry = per_noise.setdefault(kind, {}).setdefault(level, {})
        for m in robust:
            values = m.fn(noisy.motion, anchor, other, lengths)
            conditions[m.name].append(values)
            entry[m.name] = bootstrap_ci(values, n_boot=N_BOOT, seed=x.seed, drop_undefined=True).to_dict()
        for m in judged:
            entry[m.name] = _score(m, noisy, x, x.reference)[0].to_dict()
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
        lines.append(
            json.dumps(
                {"id": sample_id, "prompt": suite.prompts[i], "label": suite.labels[i], "length": int(suite.lengths[i]), "scores": scores}
            )
        )
    write_text_atomic(path, "\n".join(lines) + "\n")
