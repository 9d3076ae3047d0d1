"""Action accuracy: a classifier's verdict on clips against their labels, and the model's action-head accuracy.

The original "action accuracy" (`scripts/evaluate.py`) is the argmax of the model's own action head
under teacher forcing; the original trainer feeds the true action track in as an input and makes it
the head's target too, so the head learns to read its label and the figure says nothing about the
motion. stickeval instead asks an independent classifier what action a rollout shows (the ACTOR
protocol, Petrovich et al. 2021: a pretrained action classifier run on the generated motion): multinomial logistic regression
(scikit-learn) on `features.motion_features`, standardised, trained on the suite's reference train
split. On the real motion capture this separates the 10 dataset-2 actions at ~99.8% on held-out
source files, so it is a reliable judge; on white noise it is at or below chance.

The classifier itself (fitting, its file, its cache) is `stickeval.judge.classifier`; this module
only compares probabilities with labels, so it stays a pure function of arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from stickeval.errors import MetricInputError
from stickeval.metrics._inputs import check_lengths, masked_mean, scored_mask


class Classifier(Protocol):
    """What `score_actions` asks of a judge: class names and probabilities for feature rows."""

    @property
    def classes_(self) -> tuple[str, ...]: ...

    def predict_proba(self, features: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ActionScores:
    """The classifier's verdict on a set of clips.

    Attributes:
        classes: action names, the row/column order of `confusion`.
        predicted: the top-1 action of each clip.
        top1: float [N], 1.0 where the top-1 action is the clip's label.
        top3: float [N], 1.0 where the label is among the 3 most probable actions.
        confusion: int [K, K], confusion[i, j] = clips labelled classes[i] predicted classes[j].
    """

    classes: tuple[str, ...]
    predicted: tuple[str, ...]
    top1: np.ndarray
    top3: np.ndarray
    confusion: np.ndarray


def score_actions(classifier: Classifier, features: np.ndarray, labels: Sequence[str]) -> ActionScores:
    """Classify clips (one pass) and compare with the actions they should show.

    Top-1 accuracy is the mean of `top1` (range [0, 1], higher is better): references of the
    classifier's held-out split score high, a model that ignores its text scores about the share of
    the most common action, white noise about chance or below. Per-action accuracy is `top1`
    grouped by label (`stats.bootstrap_by_group`).

    Args:
        classifier: a fitted classifier (`stickeval.judge.classifier.ActionClassifier`).
        features: float [N, F] `features.motion_features` of the clips (rollouts, or references for
            the reference row).
        labels: N action names the clips should show.

    Returns:
        ActionScores.

    Raises:
        MetricInputError: a label the classifier was not trained on (train it on a split that covers
            every action), or a label count that differs from N.
    """
    return judge_actions(classifier.predict_proba(features), classifier.classes_, labels)


def judge_actions(proba: np.ndarray, classes: Sequence[str], labels: Sequence[str]) -> ActionScores:
    """Compare any classifier's probabilities with the actions the clips should show.

    The comparison `score_actions` makes, for a judge given as probabilities (the learned
    evaluator's time-aware classifier, `stickeval.judge.Evaluator.classify`).

    Args:
        proba: float [N, K] class probabilities (or any scores ranked the same way).
        classes: the K action names, in column order.
        labels: N action names the clips should show.

    Returns:
        ActionScores.

    Raises:
        MetricInputError: a label not among `classes`, or a label count that differs from N.
    """
    classes = tuple(str(c) for c in classes)
    names = labels_array(labels, len(proba))
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(n) for n in names} - set(index))
    if unknown:
        raise MetricInputError(
            f"labels {unknown[:5]} are not among the classifier's {len(classes)} actions; "
            "train the classifier on a split that covers every action scored."
        )
    truth = np.array([index[n] for n in names], dtype=np.int64)
    ranked = np.argsort(-proba, axis=1, kind="stable")
    top1 = (ranked[:, 0] == truth).astype(np.float64)
    top3 = (ranked[:, :3] == truth[:, None]).any(axis=1).astype(np.float64)
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (truth, ranked[:, 0]), 1)
    return ActionScores(classes, tuple(classes[i] for i in ranked[:, 0]), top1, top3, confusion)


def top1_accuracy(scores: ActionScores) -> np.ndarray:
    """Per clip, 1.0 where the classifier's top-1 action is the clip's label, else 0.0.

    The mean over clips is the top-1 accuracy: range [0, 1], higher is better (references of the
    held-out split ~0.99 on the real track, white noise and frozen poses about chance).

    Args:
        scores: `score_actions(classifier, features, labels)` of the clips.

    Returns:
        float64 [N] (`scores.top1`).
    """
    return scores.top1


def top3_accuracy(scores: ActionScores) -> np.ndarray:
    """Per clip, 1.0 where the clip's label is among the classifier's 3 most probable actions, else 0.0.

    The mean over clips is the top-3 accuracy: range [0, 1], higher is better, never below top-1
    (with fewer than 3 actions, always 1). Args, Returns: as `top1_accuracy` (`scores.top3`).
    """
    return scores.top3


def action_head_accuracy(logits: np.ndarray, actions: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Per clip, the fraction of generated frames where the model's own action head names the frame's action.

    acc_i = mean over frames t in 1..L_i-1 of [argmax_a logits[i, t, a] == actions[i, t]], with
    logits[:, t] the action head's output when frame t was generated (frame 0 is given, not scored).
    Range [0, 1], higher is better. Unlike the original (teacher-forced), this
    is read off the rollout; but the generator still feeds the action track, so the head can echo it:
    report it beside the classifier's accuracy, not instead of it.

    Args:
        logits: float [N, T, A] action-head outputs during the rollout.
        actions: int [N, T] action ids of each frame.
        lengths: int [N] real frames per clip (None: all T).

    Returns:
        float64 [N].

    Raises:
        MetricInputError: shapes do not match, an action id is outside [0, A), or a length is
            outside [2, T].
    """
    lg, act = np.asarray(logits, dtype=np.float64), np.asarray(actions)
    if lg.ndim != 3 or act.shape != lg.shape[:2] or not np.issubdtype(act.dtype, np.integer):
        raise MetricInputError(
            f"action-head accuracy needs logits [N, T, A] and integer actions [N, T]; got {lg.shape} and {act.dtype} {act.shape}."
        )
    if act.size and (act.min() < 0 or act.max() >= lg.shape[2]):
        raise MetricInputError(f"action ids must lie in [0, {lg.shape[2]}); got [{act.min()}, {act.max()}].")
    lens = check_lengths(lengths, lg.shape[0], lg.shape[1], name="logits", min_length=2)
    hit = (lg.argmax(axis=2) == act).astype(np.float64)
    return masked_mean(hit, scored_mask(lens, lg.shape[1]))


def labels_array(labels: Sequence[str], n: int) -> np.ndarray:
    """The N labels as a string array.

    Raises:
        MetricInputError: the count is not N.
    """
    names = np.asarray([str(x) for x in labels], dtype=str)
    if names.shape != (n,):
        raise MetricInputError(f"need one action label per clip: {names.size} labels for {n} clips.")
    return names
