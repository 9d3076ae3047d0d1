"""Motion features: invariant to position and body size, blind to padding, one vector per clip."""

import numpy as np
import pytest

from stickeval.data.suite import MIN_FRAMES
from stickeval.errors import MetricInputError
from stickeval.metrics.features import body_scale, motion_features


def test_features_do_not_change_when_the_figure_moves_or_changes_size(clips):
    motion, lens = clips.motion[:10], clips.lengths[:10]
    base = motion_features(motion, lens)
    moved = motion + np.tile([3.0, -1.5], 10)
    assert np.allclose(motion_features(moved, lens), base)
    assert np.allclose(motion_features(1.7 * motion, lens), base)


def test_padding_frames_do_not_change_the_features(clips):
    motion, lens = clips.motion[:5].copy(), clips.lengths[:5]
    base = motion_features(motion, lens)
    motion[:, lens[0] :] = np.random.default_rng(0).standard_normal(motion[:, lens[0] :].shape)
    assert np.array_equal(motion_features(motion, lens), base)


def test_clip_length_is_not_a_feature(figures):
    # The same steady swing over 100 or 200 frames (whole periods) gives nearly the same features;
    # the original's raw float(T) feature would differ by 100.
    t = np.arange(250)
    tracks = figures.joint_tracks("v1", 250)
    tracks["left_hand"][:, 0] += 0.3 * np.sin(2 * np.pi * t / 25)
    clip = figures.motion("v1", tracks)[None]
    short, long = motion_features(clip, np.array([101])), motion_features(clip, np.array([201]))
    assert np.abs(short - long).max() < 0.05


@pytest.mark.parametrize(("schema", "width"), [("v1", 114), ("v3", 314)])
def test_feature_width_follows_the_schema(figures, schema, width):
    clip = figures.standing(schema, 40)[None] + 0.01 * np.sin(np.arange(40))[None, :, None]
    assert motion_features(clip).shape == (1, width)


def test_body_scale_is_the_median_torso_length(figures):
    still = figures.standing("v3", 12)[None]  # torso 1.0 (neck to pelvis centre)
    assert body_scale(still)[0] == pytest.approx(1.0)
    assert body_scale(2.5 * still)[0] == pytest.approx(2.5)


def test_frozen_clip_has_finite_features(figures):
    assert np.isfinite(motion_features(figures.standing("v1", 20)[None])).all()


def test_clips_shorter_than_the_one_minimum_are_refused(figures):
    with pytest.raises(MetricInputError, match=rf"at least {MIN_FRAMES} real frames"):
        motion_features(figures.standing("v1", 20)[None], np.array([MIN_FRAMES - 1]))
