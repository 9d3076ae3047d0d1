"""stickeval's static action classifier: fitted on a suite's reference train split, saved and cached by key.

Multinomial logistic regression (scikit-learn) on `metrics.features.motion_features`, standardised.
After fitting it is only arrays (feature mean / scale, weights, bias, class names), so it is saved
as a plain `.npz` (no pickle: safe to load and independent of the scikit-learn version) under a key
that hashes the training data, the feature version and the hyperparameters.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stickeval._io import save_npz_atomic, stable_key
from stickeval.errors import ActionClassifierError, MetricInputError
from stickeval.metrics._threads import one_thread
from stickeval.metrics.action import labels_array
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
        names = labels_array(labels, len(motion))
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
    names = labels_array(labels, len(motion))
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


def _description(data_hash: str, c: float, max_iter: int) -> dict:
    """What makes a fitted classifier: versions, hyperparameters, training data. Saved as its `meta`."""
    return {"version": CLASSIFIER_VERSION, "features": FEATURES_VERSION, "c": c, "max_iter": max_iter, "training_hash": data_hash}


def _cache_key(data_hash: str, c: float, max_iter: int) -> str:
    return stable_key(_description(data_hash, c, max_iter))
