"""What every row of a run's results is judged with and against, built once per run.

Every row of a run (the model's, the reference row, each context row, each noise condition) is
scored against the same things, whatever the model: the suite's clips (the references) and their
train and held-out splits, the judge models (the static action classifier fitted on the train split
and the suite's learned evaluator) and the seed. `ScoringSetup` holds them. A `ClipSet` is one row's
clips as the metrics see them; what is derived from the clips (motion and kinematic features,
evaluator embeddings, each classifier's verdict) is computed on first use and shared by every metric.

The learned evaluator comes from `stickeval.judge.load_evaluator` (shipped for StickBench, built and
cached for the real track); a user's .pt data has none, and the evaluator's figures are then null
with a notice.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval.data import load_suite
from stickeval.data.suite import Suite, select, split_of
from stickeval.errors import EvaluatorError
from stickeval.judge import Evaluator
from stickeval.judge.classifier import ActionClassifier, load_or_fit_classifier
from stickeval.metrics import METRICS
from stickeval.metrics.action import ActionScores, judge_actions, score_actions
from stickeval.metrics.features import motion_features
from stickeval.metrics.kinematics import kinematic_features


def cache_dir() -> Path:
    """The judge models' disk cache: fitted action classifiers (classifiers/) and the real track's
    evaluator (evaluator/). $STICKEVAL_CACHE, else $XDG_CACHE_HOME/stickeval, else ~/.cache/stickeval."""
    root = os.environ.get("STICKEVAL_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stickeval"
    return Path(root)


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


@dataclass(frozen=True)
class JudgeModels:
    """The models that judge clips: the static action classifier (on time-pooled motion features,
    fitted on the train split) and the suite's learned evaluator (motion and text embeddings, the
    time-aware classifier), None where the data has none."""

    classifier: ActionClassifier
    evaluator: Evaluator | None


class ClipSet:
    """One row's clips as the metrics see them: motion, lengths, labels, prompts, and what is derived
    from them once (motion and kinematic features, evaluator embeddings, each classifier's verdict)
    and shared by every metric. A model's rollouts also carry its teacher-forced outputs and action
    logits (the "teacher_forced" and "action_head" kinds read them)."""

    def __init__(
        self,
        motion: np.ndarray,
        lengths: np.ndarray,
        labels: list[str],
        prompts: list[str],
        judges: JudgeModels,
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
        """The evaluator's embedding of each clip."""
        return self._evaluator.embed_motion(self.motion, self.lengths)

    @functools.cached_property
    def text(self) -> np.ndarray:
        """The evaluator's embedding of each clip's prompt."""
        return self._evaluator.embed_text(list(self.prompts))

    @functools.cached_property
    def actions(self) -> ActionScores:
        """The time-aware classifier's verdict; the static classifier's where the data has no evaluator."""
        evaluator = self._judges.evaluator
        if evaluator is None:
            return self.static_actions
        return judge_actions(evaluator.classify(self.motion, self.lengths), evaluator.classes, self.labels)

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


class ScoringSetup:
    """What every row of a run is judged against, whatever the model. Built once per run, before or
    after generation (`scoring.score_suite`).

    Attributes:
        seed: the run's seed (pairings, context rows, every bootstrap).
        suite: the clips the run answers: its prompts, lengths, labels and action tracks.
        train_suite: the clips the static classifier learned from, which the context rows draw on.
        judges: the classifier and the learned evaluator.
        reference: the suite's clips, which every row's paired and set metrics compare with.
        held_out: the reference row's clips: the suite, or a user dataset's held-out part.
        train: the train clips, which the reference row's Fréchet distances compare with.
        split_notice, evaluator_notice: what results.json says about the splits and the evaluator, or None.
    """

    def __init__(self, settings: dict, suite: Suite):
        """`settings` as run.json stores them (their `seed` and `suite` are read), `suite` the clips the run answers."""
        self.seed = settings["seed"]
        self.suite = suite
        train, held_out, self.split_notice = reference_splits(suite, settings)
        classifier = load_or_fit_classifier(cache_dir() / "classifiers", train.motion, train.labels, train.lengths)
        evaluator, self.evaluator_notice = _load_evaluator(settings["suite"])
        self.judges = JudgeModels(classifier, evaluator)
        self.reference = self.clips(suite.motion)
        self.held_out = self.reference if held_out is suite else self._clip_set(held_out)
        self.train = self.reference if train is suite else self._clip_set(train)
        self.train_suite = train

    @property
    def evaluator(self) -> Evaluator | None:
        return self.judges.evaluator

    def clips(self, motion: np.ndarray, **model_outputs: np.ndarray) -> ClipSet:
        """Clips answering the suite's prompts (its lengths, labels and prompts)."""
        return ClipSet(motion, self.suite.lengths, self.suite.labels, self.suite.prompts, self.judges, **model_outputs)

    def _clip_set(self, part: Suite) -> ClipSet:
        """Another suite's clips (a split of this one), judged by the same models."""
        return ClipSet(part.motion, part.lengths, part.labels, part.prompts, self.judges)
