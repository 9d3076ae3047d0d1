"""Kinematic Fréchet distance: velocity, acceleration and jerk statistics of sets of clips."""

import numpy as np
import pytest

from stickeval.errors import MetricInputError
from stickeval.metrics.corruptions import moving_average
from stickeval.metrics.kinematics import EPS, kinematic_fd, kinematic_fd_ci, kinematic_features


def test_known_answer_root_moving_at_constant_speed(figures):
    # The whole figure slides right at 0.1 units per frame (2.5 torso lengths/s at 25 fps): the root's
    # velocity RMS is 2.5, every other joint (relative to the root) is still, accelerations are 0.
    tracks = figures.joint_tracks("v1", 50)
    steps = np.arange(50)[:, None] * np.array([[0.1, 0.0]])
    motion = figures.motion("v1", {j: xy + steps for j, xy in tracks.items()})[None]
    f = kinematic_features(motion)
    assert f.shape == (1, 18)
    hip = list(figures.STANDING["v1"]).index("hip")
    assert f[0, hip] == pytest.approx(np.log(2.5 + EPS))
    others = [j for j in range(6) if j != hip]
    np.testing.assert_allclose(f[0, others], np.log(EPS))
    np.testing.assert_allclose(f[0, 6:], np.log(EPS), atol=1e-9)


def test_frozen_clip_has_every_derivative_at_the_floor(figures):
    f = kinematic_features(figures.standing("v1", 30)[None])
    np.testing.assert_allclose(f, np.log(EPS))


def test_set_with_itself_scores_zero(clips):
    assert kinematic_fd(clips.motion, clips.motion, clips.lengths) == pytest.approx(0.0, abs=1e-6)


def test_over_smoothed_frozen_jittery_and_noise_score_far_above_real_halves(clips, variants):
    half = len(clips.motion) // 2
    f = kinematic_features(clips.motion, clips.lengths)
    real = kinematic_fd_ci(f[:half], f[half : 2 * half], paired=False, n_boot=200)
    lengths = clips.lengths[:half]
    rng = np.random.default_rng(0)
    for name, motion in {
        "smoothed": moving_average(clips.motion[:half], 15),
        "frozen": variants["frozen"][:half],
        "jitter": clips.motion[:half] + 0.05 * rng.standard_normal(clips.motion[:half].shape),
        "noise": variants["noise"][:half],
    }.items():
        est = kinematic_fd_ci(kinematic_features(motion, lengths), f[half : 2 * half], paired=False, n_boot=200)
        assert est.ci95[0] > real.ci95[1], name


def test_clip_shorter_than_five_frames_is_refused(figures):
    with pytest.raises(MetricInputError, match="at least 5"):
        kinematic_features(figures.standing("v1", 10)[None], np.array([4]))
