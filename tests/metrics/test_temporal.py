"""Temporal consistency (jerk ratio), the legacy smoothness score, and the frozen / jittery flags."""

import numpy as np
import pytest

from stickeval.data.stickbench import load_suite
from stickeval.errors import MetricInputError
from stickeval.metrics.temporal import frozen, jerk_ratio, jittery, smoothness_legacy, temporal_consistency

OMEGA = 2 * np.pi / 25  # 1 Hz at 25 fps


def waving(figures, amplitude: float, n_frames: int = 255) -> np.ndarray:
    """The standing v1 figure with both hands swinging sideways at 1 Hz: [1, n_frames, 20]."""
    tracks = figures.joint_tracks("v1", n_frames)
    swing = amplitude * np.sin(OMEGA * np.arange(n_frames))
    tracks["left_hand"][:, 0] += swing
    tracks["right_hand"][:, 0] -= swing
    return figures.motion("v1", tracks)[None]


def test_copy_scores_one(clips):
    ref = clips.motion
    assert np.allclose(temporal_consistency(ref.copy(), ref, clips.lengths), 1.0)


def test_same_motion_at_a_smaller_amplitude_scores_the_amplitude_ratio(figures):
    # Jerk is linear in amplitude, so the ratio is 0.2 / 0.5 (eps = 1e-3 torso/s^3 is negligible here).
    score = temporal_consistency(waving(figures, 0.2), waving(figures, 0.5))
    assert score[0] == pytest.approx(0.4, rel=1e-4)
    assert temporal_consistency(waving(figures, 0.5), waving(figures, 0.2))[0] == pytest.approx(0.4, rel=1e-4)


def test_legacy_smoothness_of_a_cubic_is_one_over_one_plus_six_c_root_d():
    c = 1e-4
    cubic = c * np.arange(250.0)[None, :, None] ** 3 * np.ones((1, 1, 20))  # third difference 6c everywhere
    assert smoothness_legacy(cubic)[0] == pytest.approx(1 / (1 + 6 * c * np.sqrt(20)), rel=1e-9)


def test_legacy_mean_jerk_of_a_sine_matches_its_closed_form(figures):
    # One coordinate (the left hand's x) is 0.5 sin(wt): |third difference| = 0.5 (2 sin(w/2))^3 |cos(.)|,
    # and |cos| averages 2/pi over whole periods. The right hand is held still here.
    tracks = figures.joint_tracks("v1", 255)
    tracks["left_hand"][:, 0] += 0.5 * np.sin(OMEGA * np.arange(255))
    mean_jerk = 1 / smoothness_legacy(figures.motion("v1", tracks)[None])[0] - 1
    assert mean_jerk == pytest.approx(0.5 * (2 * np.sin(OMEGA / 2)) ** 3 * 2 / np.pi, rel=0.01)


def test_frozen_pose_scores_near_zero_and_is_flagged_frozen(variants, clips):
    ref, lens = clips.motion, clips.lengths
    assert temporal_consistency(variants["frozen"], ref, lens).max() < 0.01
    assert np.all(frozen(variants["frozen"], ref, lens) == 1.0)
    assert np.all(jittery(variants["frozen"], ref, lens) == 0.0)


# Share of white-noise clips flagged jittery: every one against real motion; StickBench's dodges and
# punches are themselves more than a quarter as jerky per unit of speed as white noise.
NOISE_JITTERY_SHARE = {"real": 1.0, "stickbench": 0.95}


def test_white_noise_scores_low_and_is_flagged_jittery(variants, clips):
    ref, lens = clips.motion, clips.lengths
    assert temporal_consistency(variants["noise"], ref, lens).max() < 0.05
    assert jittery(variants["noise"], ref, lens).mean() >= NOISE_JITTERY_SHARE[clips.source]
    assert np.all(frozen(variants["noise"], ref, lens) == 0.0)


def test_reference_frames_in_shuffled_order_score_low(variants, clips):
    assert temporal_consistency(variants["shuffled"], clips.motion, clips.lengths).mean() < 0.1


def test_time_shifted_copy_scores_near_one_and_is_not_flagged(variants, clips):
    ref, lens = clips.motion, clips.lengths
    assert temporal_consistency(variants["shifted"], ref, lens).mean() > 0.8
    assert frozen(variants["shifted"], ref, lens).sum() == 0 and jittery(variants["shifted"], ref, lens).sum() == 0


def test_ordering_reference_above_another_action_above_white_noise(variants, clips):
    ref, lens = clips.motion, clips.lengths
    copy, other, noise = (temporal_consistency(variants[k], ref, lens).mean() for k in ("copy", "other", "noise"))
    assert copy > other > noise


@pytest.fixture(params=["stickbench", "real"])
def walks(request) -> np.ndarray:
    """Walking clips of 150 frames: StickBench quick's, or 8 of the real track's seen from the side."""
    if request.param == "stickbench":
        suite = load_suite("quick", split="test")
        return suite.motion[[i for i, label in enumerate(suite.labels) if label == "walk"], :150].astype(np.float64)
    realmotion = request.getfixturevalue("realmotion")
    sel = np.flatnonzero((realmotion["label"] == "walk") & (realmotion["length"] >= 150))[:8]
    return realmotion["motion_sagittal"][sel].astype(np.float64)[:, :150]


def test_walk_beats_a_frozen_pose_where_the_legacy_score_has_it_backwards(walks):
    walk = walks
    assert len(walk) >= 4
    still = np.repeat(walk[:, :1], 150, axis=1)
    assert temporal_consistency(walk, walk).mean() > 0.99 > 0.01 > temporal_consistency(still, walk).mean()
    # The original's score: the frozen pose 1.0, above the walk.
    assert np.all(smoothness_legacy(still) == 1.0)
    assert smoothness_legacy(walk).max() < 1.0


def test_still_rollout_of_a_still_reference_is_consistent_and_not_flagged(figures):
    still = figures.standing("v3", 50)[None]
    assert temporal_consistency(still, still.copy())[0] == 1.0
    assert frozen(still, still.copy())[0] == 0.0 and jittery(still, still.copy())[0] == 0.0


def test_jerk_ratio_is_independent_of_body_size(clips, variants):
    ref, lens = clips.motion, clips.lengths
    other = variants["other"]
    assert np.allclose(jerk_ratio(3 * other, 3 * ref, lens), jerk_ratio(other, ref, lens), rtol=1e-4)


def test_clips_shorter_than_five_frames_are_refused():
    with pytest.raises(MetricInputError, match=r"at least 5 real frames"):
        temporal_consistency(np.zeros((2, 10, 20)), np.zeros((2, 10, 20)), np.array([10, 4]))
