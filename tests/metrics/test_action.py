"""The action classifier (fit, class probabilities, cache) and the accuracy metrics built on it."""

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import pytest

from stickeval.data.stickbench import load_suite
from stickeval.errors import ActionClassifierError, MetricInputError
from stickeval.judge.classifier import ActionClassifier, load_or_fit_classifier
from stickeval.metrics.action import action_head_accuracy, score_actions, top1_accuracy, top3_accuracy
from stickeval.metrics.features import motion_features


def judge(classifier, motion, labels, lengths=None):
    """The classifier's verdict on clips: one pass, as scoring makes it."""
    return score_actions(classifier, motion_features(motion, lengths), labels)


def held_out(source_file: str) -> bool:
    """A quarter of the source files, chosen by hash: no file has clips on both sides of the split."""
    return int(hashlib.sha256(source_file.encode()).hexdigest()[:8], 16) % 4 == 0


@dataclass(frozen=True)
class Split:
    source: str  # "stickbench" or "real"
    train: tuple[np.ndarray, np.ndarray, list[str]]  # (motion, lengths, labels)
    test: tuple[np.ndarray, np.ndarray, list[str]]


@pytest.fixture(scope="session", params=["stickbench", "real"])
def split(request) -> Split:
    """StickBench quick's train / test split (17 actions; everywhere), or the real track's dataset-2
    (10 actions) split by source file, every 2nd training clip for speed (where the file is present)."""
    if request.param == "stickbench":
        train, test = (load_suite("quick", split=name) for name in ("train", "test"))
        return Split("stickbench", *((s.motion, s.lengths, list(s.labels)) for s in (train, test)))
    realmotion = request.getfixturevalue("realmotion")
    sel = np.flatnonzero(realmotion["dataset"] == "dataset-2")
    test = np.array([held_out(str(s)) for s in realmotion["source_file"][sel]])

    def part(idx):
        return realmotion["motion"][idx], realmotion["length"][idx], [str(x) for x in realmotion["label"][idx]]

    return Split("real", part(sel[~test][::2]), part(sel[test]))


@pytest.fixture(scope="session")
def classifier(split):
    motion, lengths, labels = split.train
    return ActionClassifier().fit(motion, labels, lengths)


# Top-1 accuracy on held-out clips. Real: 10 actions, held-out source files, chance 0.15 (the largest
# class). StickBench quick: 17 actions from about 8 training clips each, chance 0.08.
HELD_OUT_TOP1 = {"real": 0.97, "stickbench": 0.7}


def test_classifier_separates_the_actions_of_held_out_clips(classifier, split):
    motion, lengths, labels = split.test
    scores = judge(classifier, motion, labels, lengths)
    assert classifier.classes_ == tuple(sorted(set(split.train[2])))
    assert scores.top1.mean() > HELD_OUT_TOP1[split.source]
    assert scores.top3.mean() >= scores.top1.mean()


def test_white_noise_frozen_poses_and_other_actions_score_near_chance(classifier, split):
    motion, lengths, labels = split.test
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(motion.shape)
    frozen = np.repeat(motion[:, :1], motion.shape[1], axis=1)
    other = rng.permutation(len(labels))
    wrong = [lab for lab, o in zip(labels, other) if labels[o] != lab]
    wrong_idx = [o for lab, o in zip(labels, other) if labels[o] != lab]
    assert top1_accuracy(judge(classifier, noise, labels, lengths)).mean() < 0.3
    assert top1_accuracy(judge(classifier, frozen, labels, lengths)).mean() < 0.3
    assert top1_accuracy(judge(classifier, motion[wrong_idx], wrong, lengths[wrong_idx])).mean() < 0.05


def test_model_that_ignores_its_text_scores_the_share_of_its_one_action(classifier, split):
    motion, lengths, labels = split.test
    same = np.repeat(motion[:1], len(labels), axis=0)
    same_lengths = np.repeat(lengths[:1], len(labels))
    scores = judge(classifier, same, labels, same_lengths)
    (shown,) = set(scores.predicted)
    assert scores.top1.mean() == pytest.approx(labels.count(shown) / len(labels))
    assert scores.top1.mean() < 0.2


def test_confusion_matrix_rows_are_true_actions_and_its_trace_is_the_top1_count(classifier, split):
    motion, lengths, labels = split.test
    scores = judge(classifier, motion, labels, lengths)
    assert scores.confusion.sum() == len(labels)
    assert np.trace(scores.confusion) == scores.top1.sum()
    for i, action in enumerate(scores.classes):
        assert scores.confusion[i].sum() == labels.count(action)


def test_two_separable_synthetic_actions_are_classified_perfectly(figures):
    still = np.repeat(figures.standing("v1", 60)[None], 6, axis=0)
    waving = still.copy()
    t = np.arange(60)
    for i in range(6):
        waving[i, :, 18] += (0.4 + 0.05 * i) * np.sin(2 * np.pi * t / 25 + i)  # right hand's x (dim 18)
        still[i] += 0.01 * i  # small per-clip offsets: invariant features must ignore them
    motion = np.concatenate([still, waving])
    labels = ["stand"] * 6 + ["wave"] * 6
    clf = ActionClassifier().fit(motion, labels)
    assert clf.classes_ == ("stand", "wave")
    scores = judge(clf, motion, labels)
    assert scores.top1.tolist() == [1.0] * 12
    assert scores.confusion.tolist() == [[6, 0], [0, 6]]
    assert np.allclose(clf.predict_proba(motion_features(motion)).sum(axis=1), 1.0)
    assert top3_accuracy(judge(clf, motion, labels)).tolist() == [1.0] * 12  # fewer than 3 classes: always in


def test_save_and_load_give_identical_probabilities(classifier, split, tmp_path):
    motion, lengths, _ = split.test
    path = classifier.save(tmp_path / "clf.npz")
    loaded = ActionClassifier.load(path)
    assert loaded.classes_ == classifier.classes_ and loaded.key == classifier.key
    some, some_lengths = motion[:50], lengths[:50]
    assert np.array_equal(
        loaded.predict_proba(motion_features(some, some_lengths)), classifier.predict_proba(motion_features(some, some_lengths))
    )


@pytest.mark.parametrize("split", ["stickbench"], indirect=True)
def test_cache_fits_once_then_loads_and_refits_a_corrupt_file(split, tmp_path, caplog):
    motion, lengths, labels = split.train
    first = load_or_fit_classifier(tmp_path, motion, labels, lengths)
    (path,) = tmp_path.glob("action-classifier-*.npz")
    assert path.name == f"action-classifier-{first.key}.npz"
    assert first.key == ActionClassifier().fit(motion, labels, lengths).key
    stamp = path.stat().st_mtime_ns
    again = load_or_fit_classifier(tmp_path, motion, labels, lengths)
    assert path.stat().st_mtime_ns == stamp and again.key == first.key
    path.write_bytes(b"not a zip file")
    with caplog.at_level(logging.WARNING, logger="stickeval.metrics.action"):
        refit = load_or_fit_classifier(tmp_path, motion, labels, lengths)
    assert "refitting the action classifier" in caplog.text
    assert np.array_equal(refit.predict_proba(motion_features(motion, lengths)), first.predict_proba(motion_features(motion, lengths)))
    assert ActionClassifier.load(path).key == first.key


@pytest.mark.parametrize("split", ["stickbench"], indirect=True)
def test_cache_key_changes_with_the_training_data(split, tmp_path):
    motion, lengths, labels = split.train
    a = load_or_fit_classifier(tmp_path, motion[:100], labels[:100], lengths[:100])
    b = load_or_fit_classifier(tmp_path, motion[1:101], labels[1:101], lengths[1:101])
    assert a.key != b.key and len(list(tmp_path.glob("*.npz"))) == 2


def test_loading_a_corrupt_file_says_to_delete_it(tmp_path):
    path = tmp_path / "clf.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(ActionClassifierError, match="cannot read the action classifier .*Delete it"):
        ActionClassifier.load(path)


def test_unfitted_classifier_and_other_schema_are_refused(classifier, figures):
    with pytest.raises(ActionClassifierError, match="not fitted"):
        ActionClassifier().predict_proba(np.zeros((1, 114)))
    v3 = figures.standing("v3", 20)[None] + 0.01 * np.arange(20)[None, :, None]
    with pytest.raises(ActionClassifierError, match="trained on 114 features .* 314"):
        classifier.predict_proba(motion_features(v3))


def test_labels_the_classifier_never_saw_are_refused(classifier, split):
    motion, lengths, labels = split.test
    n = len(classifier.classes_)
    with pytest.raises(MetricInputError, match=rf"\['moonwalk'\] are not among the classifier's {n} actions"):
        judge(classifier, motion[:2], ["moonwalk", labels[1]], lengths[:2])
    with pytest.raises(MetricInputError, match="one action label per clip: 1 labels for 2 clips"):
        judge(classifier, motion[:2], labels[:1], lengths[:2])


def test_one_label_cannot_train_a_classifier(figures):
    with pytest.raises(MetricInputError, match="at least 2 distinct labels"):
        ActionClassifier().fit(np.repeat(figures.standing("v1", 10)[None], 3, axis=0), ["idle"] * 3)


def test_action_head_accuracy_counts_generated_frames_only():
    actions = np.array([[3, 1, 1, 2, 2, 0, 0, 0]])  # 6 real frames, 2 of padding
    logits = np.zeros((1, 8, 4))
    logits[0, np.arange(8), [0, 1, 0, 2, 0, 3, 3, 3]] = 1.0  # right at frames 1, 3; frame 0 and padding ignored
    assert action_head_accuracy(logits, actions, np.array([6]))[0] == pytest.approx(2 / 5)


def test_action_head_accuracy_refuses_ids_beyond_the_head():
    with pytest.raises(MetricInputError, match=r"action ids must lie in \[0, 4\)"):
        action_head_accuracy(np.zeros((1, 5, 4)), np.full((1, 5), 4))
    with pytest.raises(MetricInputError, match="logits \\[N, T, A\\] and integer actions"):
        action_head_accuracy(np.zeros((1, 5, 4)), np.zeros((1, 5)))
