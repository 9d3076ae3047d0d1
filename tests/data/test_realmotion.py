"""The real-motion track: the `.npz` reader and the "real" suite built on it."""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from stickeval.data import motion_npz
from stickeval.data.motion_npz import read_motion_npz
from stickeval.data.schema import ACTION_TO_ID, ACTIONS, N_FRAMES, joints
from stickeval.data.stickbench import load_suite
from stickeval.data.suite import split_of
from stickeval.errors import DatasetError

DATASET_2_LABELS = {
    "raise-up-both-hands",
    "raise-up-left-hand",
    "raise-up-right-hand",
    "run",
    "walk",
    "walk-turn-left",
    "walk-turn-right",
    "wave-both-hands",
    "wave-left-hand",
    "wave-right-hand",
}


@pytest.fixture(scope="module")
def real_test(realmotion_path):
    return load_suite("real")


def test_real_clips_load_with_the_expected_shapes_and_labels(realmotion_path, real_test):
    raw = np.load(realmotion_path)
    n_dataset_2 = int(np.sum(raw["dataset"] == "dataset-2"))
    n_train = len(load_suite("real", split="train"))
    assert n_train + len(real_test) == n_dataset_2
    assert real_test.motion.shape == (len(real_test), N_FRAMES, 20) and real_test.motion.dtype == np.float32
    assert set(real_test.labels) == DATASET_2_LABELS
    assert all(isinstance(label, str) for label in real_test.labels)
    assert np.all((real_test.lengths >= 1) & (real_test.lengths <= N_FRAMES))
    assert real_test.version == "bandai_namco_stick" and real_test.name == "real"


def test_real_prompts_word_the_label_and_style(real_test):
    i = real_test.labels.index("wave-left-hand")
    assert "waves with the left hand" in real_test.prompts[i]


def test_real_action_tracks_map_labels_to_schema_actions(real_test):
    for label, track in zip(real_test.labels, real_test.actions):
        expected = "walk" if label.startswith("walk") else "run" if label == "run" else "wave" if label.startswith("wave") else None
        if expected:
            assert np.all(track == ACTION_TO_ID[expected])


def test_real_clips_stand_on_the_floor_at_y_zero(real_test):
    j = joints(real_test.motion)
    valid = np.arange(N_FRAMES)[None] < real_test.lengths[:, None]
    ankles = np.minimum(j["left_foot"][..., 1], j["right_foot"][..., 1])[valid]
    assert 0.1 < np.median(ankles) < 0.5  # the ankle joint sits ~0.27 torso above the capture floor


def test_walking_clips_use_the_side_view_so_the_hip_travels_forward(real_test):
    hip = joints(real_test.motion)["hip"]
    walks = [i for i, label in enumerate(real_test.labels) if label == "walk"]
    travel = [hip[i, real_test.lengths[i] - 1, 0] - hip[i, 0, 0] for i in walks]
    assert np.median(travel) > 3.0  # ~2.5 torso units/s toward +x, seen from the side


def test_the_real_split_keeps_every_take_on_one_side(realmotion_path, real_test):
    train = load_suite("real", split="train")
    take = lambda sid: sid.rsplit("#", 1)[0]  # noqa: E731
    assert not {take(i) for i in train.ids} & {take(i) for i in real_test.ids}
    assert all(split_of(take(i)) == "test" for i in real_test.ids)


def test_a_limited_real_suite_is_a_stable_mix_of_labels(real_test):
    few = load_suite("real", limit=60)
    assert few.ids == real_test.ids[:60]
    assert len(set(few.labels)) >= 6


def test_a_missing_real_motion_file_is_a_clear_error_naming_the_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.npz"
    monkeypatch.setenv(motion_npz.REALMOTION_ENV, str(missing))
    with pytest.raises(DatasetError, match="not found") as e:
        load_suite("real")
    assert str(missing) in str(e.value) and motion_npz.REALMOTION_ENV in str(e.value)


def test_any_npz_with_motion_and_label_reads_with_defaults(tmp_path):
    motion = np.random.default_rng(0).standard_normal((3, 40, 20)).astype(np.float32)
    np.savez(tmp_path / "mine.npz", motion=motion, label=np.array(["walk", "jump", "bow"]))
    suite = read_motion_npz(tmp_path / "mine.npz")
    np.testing.assert_array_equal(suite.motion, motion)
    assert suite.ids == ["mine/0#0", "mine/1#0", "mine/2#0"]
    assert list(suite.lengths) == [40, 40, 40]
    # A schema action is its own action; a real-motion label is mapped (a bow is explicitly idle).
    assert suite.actions[:, 0].tolist() == [ACTION_TO_ID["walk"], ACTION_TO_ID["jump"], ACTION_TO_ID["idle"]]
    assert suite.prompts[2] == "A person bows."


def test_an_unknown_label_is_refused_by_name_never_read_as_idle(tmp_path):
    labels = np.array(["walk", "juggle", "moonwalk", "juggle"])
    np.savez(tmp_path / "mine.npz", motion=np.zeros((4, 10, 20), np.float32), label=labels)
    with pytest.raises(DatasetError, match=r"labels \['juggle', 'moonwalk'\] \(2 in all\) are neither") as e:
        read_motion_npz(tmp_path / "mine.npz")
    assert "stickeval.data.ACTIONS" in str(e.value) and e.value.path == str(tmp_path / "mine.npz")


def test_both_hands_raised_is_celebrate_and_one_hand_raised_is_wave(tmp_path):
    labels = np.array(["raise-up-both-hands", "raise-up-left-hand", "raise-up-right-hand"])
    np.savez(tmp_path / "raise.npz", motion=np.zeros((3, 10, 20), np.float32), label=labels)
    suite = read_motion_npz(tmp_path / "raise.npz")
    assert [ACTIONS[track[0]] for track in suite.actions] == ["celebrate", "wave", "wave"]


def open_files(path) -> list[str]:
    """The file descriptors of this process open on `path` (Linux /proc; the test skips elsewhere)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd")
    return [fd.name for fd in fds.iterdir() if os.path.realpath(fd) == os.path.realpath(path)]


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"motion": np.zeros((2, 10, 20), np.float32)}, "'label is not a file in the archive'"),
        ({"motion": np.zeros((2, 10, 19), np.float32), "label": np.array(["walk"] * 2)}, r"shape \(2, 10, 19\)"),
        ({"motion": np.zeros((2, 10, 20), np.float32), "label": np.array(["walk"] * 2), "floor_y": np.zeros(3)}, "IndexError"),
        ({"motion": np.zeros((2, 10, 20), np.float32), "label": np.array(["walk"] * 2), "length": np.array([10])}, "IndexError"),
    ],
    ids=["no-label", "bad-width", "floor_y-of-another-length", "length-of-another-length"],
)
def test_a_malformed_npz_is_one_dataset_error_and_leaves_no_file_open(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError, match="is not a motion .npz with 'motion' .* and 'label'") as e:
        read_motion_npz(path)
    assert re.search(message, str(e.value)) and e.value.path == str(path)
    assert open_files(path) == []  # even while the error (and its traceback) is alive


def test_a_clip_too_short_to_score_is_refused(tmp_path):
    motion = np.zeros((3, 10, 20), np.float32)
    np.savez(tmp_path / "short.npz", motion=motion, label=np.array(["walk"] * 3), length=np.array([10, 4, 3]))
    with pytest.raises(DatasetError, match=r"2 clip\(s\) have a length outside \[5, 10\] frames \(clip 1: 4\)"):
        read_motion_npz(tmp_path / "short.npz")
