"""Action accuracy: stickeval's own action classifier as the judge, and the model's action-head accuracy.

The original "action accuracy" is the argmax of the model's own action head under teacher forcing,
with the true action track fed in as an input (reference §4.2, §7.2 item 2): the head can read its
label, so the figure says nothing about the motion. stickeval instead asks an independent classifier
what action a rollout shows (the ACTOR protocol, eval-protocol §A4): multinomial logistic regression
(scikit-learn) on `features.motion_features`, standardised, trained on the suite's reference train
split. On the real motion capture this separates the 10 dataset-2 actions at ~99.8% on held-out
source files, so it is a reliable judge; on white noise it is at or below chance.

After fitting, the classifier is only arrays (feature mean / scale, weights, bias, class names), so
it is saved as a plain `.npz` (no pickle: safe to load and independent of the scikit-learn version)
under a key that hashes the training data, the feature version and the hyperparameters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval._io import save_npz_atomic, stable_key
from stickeval.errors import ActionClassifierError, MetricInputError
from stickeval.metrics._inputs import check_lengths, masked_mean, scored_mask
from stickeval.metrics._threads import one_thread
from stickeval.metrics.features import FEATURES_VERSION, motion_features

logger = logging.getLogger(__name__)

CLASSIFIER_VERSION = "action-classifier-v1"  # bump when the model or its training changes


class ActionClassifier:
    """Multinomial logistic regression on standardised motion features.

    Example:
        >>> clf = ActionClassifier().fit(train_motion, train_labels, train_lengths)
        >>> proba = clf.predict_proba(motion_features(generated, lengths))  # [N, len(clf.classes_)]
    """

    def __init__(self, *, c: float = 1.0, max_iter: int = 3000):
        """Args: c: inverse L2 regularisation strength (scikit-learn's C); max_iter: L-BFGS iterations."""
        self.c, self.max_iter = float(c), int(max_iter)
        self._params: dict[str, np.ndarray] | None = None
        self.training_hash: str | None = None

    @property
    def classes_(self) -> tuple[str, ...]:
        """The action names, in the column order of `predict_proba`."""
        return tuple(str(c) for c in self._fitted()["classes"])

    @property
    def key(self) -> str:
        """16 hex digits naming this classifier: versions, hyperparameters and training data hash."""
        return _cache_key(self.training_hash or "", self.c, self.max_iter)

    def fit(self, motion: np.ndarray, labels: Sequence[str], lengths: np.ndarray | None = None) -> ActionClassifier:
        """Train on reference clips and their action labels.

        Args:
            motion: float [N, T, D] reference clips (the suite's train split).
            labels: N action names.
            lengths: int [N] real frames per clip (None: all T).

        Returns:
            self, fitted.

        Raises:
            MetricInputError: fewer than 2 distinct labels, a label count that differs from N, or
                bad clips (see `features.motion_features`).
        """
        names = _labels(labels, len(motion))
        return self._fit(motion, names, lengths, training_hash(motion, names, lengths))

    def _fit(self, motion: np.ndarray, names: np.ndarray, lengths: np.ndarray | None, data_hash: str) -> ActionClassifier:
        """`fit` with validated labels and the training data's hash already computed."""
        from sklearn.linear_model import LogisticRegression  # imported here: scikit-learn is slow to import

        classes = np.unique(names)
        if classes.size < 2:
            raise MetricInputError(f"the action classifier needs at least 2 distinct labels; got {classes.tolist()}.")
        features = motion_features(motion, lengths)
        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(C=self.c, max_iter=self.max_iter)
        with one_thread():  # after the scikit-learn import, so its OpenMP pool is limited too
            model.fit((features - mean) / scale, names)
        weight, bias = model.coef_, model.intercept_
        if weight.shape[0] == 1:  # binary: sigmoid(z) == softmax([0, z])
            weight, bias = np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0.0], bias])
        classes = model.classes_.astype(str)
        self._params = {"classes": classes, "mean": mean, "scale": scale, "weight": weight, "bias": bias}
        self.training_hash = data_hash
        return self

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities of each clip, from its features.

        Args:
            features: float [N, F] `features.motion_features` of clips of the schema the classifier
                was trained on (computed once per set of clips by the caller, who also needs them
                for the distribution metrics).

        Returns:
            float64 [N, K], rows summing to 1, columns in `classes_` order.

        Raises:
            ActionClassifierError: the classifier is not fitted, or was trained on another schema.
        """
        p = self._fitted()
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != p["mean"].shape[0]:
            raise ActionClassifierError(
                f"the classifier was trained on {p['mean'].shape[0]} features per clip but these clips give "
                f"{features.shape[-1]} (another schema?); train it on clips of the schema you score."
            )
        logits = ((features - p["mean"]) / p["scale"]) @ p["weight"].T + p["bias"]
        logits -= logits.max(axis=1, keepdims=True)
        proba = np.exp(logits)
        return proba / proba.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> Path:
        """Write the fitted classifier to `path` (.npz, atomically). Returns the path.

        Raises:
            ActionClassifierError: the classifier is not fitted.
        """
        p = self._fitted()
        path = Path(path)
        meta = _description(self.training_hash or "", self.c, self.max_iter)
        save_npz_atomic(path, meta=np.array(json.dumps(meta)), **p)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ActionClassifier:
        """Read a classifier written by `save`.

        Raises:
            ActionClassifierError: the file is missing, unreadable, or from another classifier or
                feature version.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                params = {k: data[k] for k in ("classes", "mean", "scale", "weight", "bias")}
            c, max_iter, trained_on = float(meta["c"]), int(meta["max_iter"]), str(meta["training_hash"])
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as e:
            raise ActionClassifierError(
                f"cannot read the action classifier {path}: {e}. Delete it; it is refitted on the next run."
            ) from None
        if meta.get("version") != CLASSIFIER_VERSION or meta.get("features") != FEATURES_VERSION:
            raise ActionClassifierError(
                f"{path} holds {meta.get('version')} on {meta.get('features')}; this stickeval uses "
                f"{CLASSIFIER_VERSION} on {FEATURES_VERSION}. Delete it; it is refitted on the next run."
            )
        clf = cls(c=c, max_iter=max_iter)
        clf._params, clf.training_hash = params, trained_on
        return clf

    def _fitted(self) -> dict[str, np.ndarray]:
        if self._params is None:
            raise ActionClassifierError("the action classifier is not fitted; call fit() or load() first.")
        return self._params


def load_or_fit_classifier(
    cache_dir: str | Path,
    motion: np.ndarray,
    labels: Sequence[str],
    lengths: np.ndarray | None = None,
    *,
    c: float = 1.0,
    max_iter: int = 3000,
) -> ActionClassifier:
    """The classifier for this training data from `cache_dir`, fitting and caching it on a miss.

    The file is `<cache_dir>/action-classifier-<key>.npz`, key = hash of the classifier and feature
    versions, hyperparameters and training data. An unreadable or stale file is refitted and replaced.

    Args:
        cache_dir: directory of cached classifiers (created if missing).
        motion, labels, lengths: the training data, as `ActionClassifier.fit`.
        c, max_iter: hyperparameters, as `ActionClassifier`.

    Returns:
        A fitted ActionClassifier.

    Raises:
        MetricInputError: as `ActionClassifier.fit`.
    """
    names = _labels(labels, len(motion))
    data_hash = training_hash(motion, names, lengths)
    path = Path(cache_dir) / f"action-classifier-{_cache_key(data_hash, c, max_iter)}.npz"
    if path.exists():
        try:
            return ActionClassifier.load(path)
        except ActionClassifierError as e:
            logger.warning("refitting the action classifier: %s", e)
    clf = ActionClassifier(c=c, max_iter=max_iter)._fit(motion, names, lengths, data_hash)
    clf.save(path)
    return clf


def training_hash(motion: np.ndarray, labels: Sequence[str], lengths: np.ndarray | None) -> str:
    """sha256 of the training data (float32 motion bytes, labels, lengths): the classifier's data key."""
    arr = np.ascontiguousarray(np.asarray(motion, dtype=np.float32))
    h = hashlib.sha256()
    h.update(repr(arr.shape).encode())
    h.update(arr.tobytes())
    h.update("\x00".join(map(str, labels)).encode())
    h.update(b"none" if lengths is None else np.asarray(lengths, dtype=np.int64).tobytes())
    return h.hexdigest()


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


def score_actions(classifier: ActionClassifier, features: np.ndarray, labels: Sequence[str]) -> ActionScores:
    """Classify clips (one pass) and compare with the actions they should show.

    Top-1 accuracy is the mean of `top1` (range [0, 1], higher is better): references of the
    classifier's held-out split score high, a model that ignores its text scores about the share of
    the most common action, white noise about chance or below. Per-action accuracy is `top1`
    grouped by label (`stats.bootstrap_by_group`).

    Args:
        classifier: a fitted ActionClassifier.
        features: float [N, F] `features.motion_features` of the clips (rollouts, or references for
            the reference row).
        labels: N action names the clips should show.

    Returns:
        ActionScores.

    Raises:
        MetricInputError: a label the classifier was not trained on (train it on a split that covers
            every action), or a label count that differs from N.
        ActionClassifierError: as `ActionClassifier.predict_proba`.
    """
    return judge_actions(classifier.predict_proba(features), classifier.classes_, labels)


def judge_actions(proba: np.ndarray, classes: Sequence[str], labels: Sequence[str]) -> ActionScores:
    """Compare any classifier's probabilities with the actions the clips should show.

    The comparison `score_actions` makes, for a judge that is not an `ActionClassifier` (the learned
    evaluator's time-aware classifier, `stickeval.evaluator.Evaluator.classify`).

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
    names = _labels(labels, len(proba))
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
    Range [0, 1], higher is better. Unlike the original (teacher-forced, true actions as input), this
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
            f"action-head accuracy needs logits [N, T, A] and integer actions [N, T]; got {lg.shape} and "
            f"{act.dtype} {act.shape}."
        )
    if act.size and (act.min() < 0 or act.max() >= lg.shape[2]):
        raise MetricInputError(f"action ids must lie in [0, {lg.shape[2]}); got [{act.min()}, {act.max()}].")
    lens = check_lengths(lengths, lg.shape[0], lg.shape[1], name="logits", min_length=2)
    hit = (lg.argmax(axis=2) == act).astype(np.float64)
    return masked_mean(hit, scored_mask(lens, lg.shape[1]))


def _labels(labels: Sequence[str], n: int) -> np.ndarray:
    names = np.asarray([str(x) for x in labels], dtype=str)
    if names.shape != (n,):
        raise MetricInputError(f"need one action label per clip: {names.size} labels for {n} clips.")
    return names


def _description(data_hash: str, c: float, max_iter: int) -> dict:
    """What makes a fitted classifier: versions, hyperparameters, training data. Saved as its `meta`."""
    return {"version": CLASSIFIER_VERSION, "features": FEATURES_VERSION, "c": c, "max_iter": max_iter,
            "training_hash": data_hash}  # fmt: skip


def _cache_key(data_hash: str, c: float, max_iter: int) -> str:
    return stable_key(_description(data_hash, c, max_iter))
