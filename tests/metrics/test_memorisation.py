"""The memorisation measure: each clip's distance to its nearest train clip, train clips at 0, real motion above."""

import numpy as np
import pytest

from stickeval.data.stickbench import load_suite
from stickeval.errors import MetricInputError
from stickeval.metrics.memorisation import _pose_track, nearest_train_mse


@pytest.fixture(scope="module")
def splits():
    return load_suite("quick", split="train"), load_suite("quick", split="test")


def test_a_replayed_train_clip_is_at_zero_wherever_it_stands_and_however_big(splits):
    train, _ = splits
    replay = train.motion[[3, 7]] * 1.7 + np.tile([5.0, -2.0], 10)
    lengths = np.array([250, 120])  # a replay cut short still matches the start of its train clip
    np.testing.assert_allclose(nearest_train_mse(replay, lengths, train.motion, train.lengths), 0.0, atol=1e-12)


def test_held_out_clips_lie_at_a_positive_distance_from_every_train_clip(splits):
    train, test = splits
    real = nearest_train_mse(test.motion, test.lengths, train.motion, train.lengths)
    assert real.shape == (len(test),) and (real > 1e-6).all()


def test_the_distance_is_the_root_relative_mse_to_the_best_train_clip_over_the_scored_frames(splits):
    train, test = splits
    clips, lengths = test.motion[:4], np.array([250, 60, 5, 131])
    got = nearest_train_mse(clips, lengths, train.motion, train.lengths)
    for i, n in enumerate(lengths):  # written out: every train clip, frames 1 .. n-1
        x = _pose_track(clips[i : i + 1].astype(np.float64), lengths[i : i + 1])[0, 1:n]
        y = _pose_track(train.motion.astype(np.float64), train.lengths)[:, 1:n]
        assert got[i] == pytest.approx(((y - x) ** 2).mean(axis=(1, 2)).min(), rel=1e-9)


def test_train_clips_of_another_length_or_schema_are_refused(splits):
    train, test = splits
    with pytest.raises(MetricInputError, match="train clips are"):
        nearest_train_mse(test.motion[:, :100], None, train.motion, train.lengths)
