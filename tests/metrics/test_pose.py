"""Pose MSE of rollouts, root-relative pose MSE, and the original teacher-forced MSE."""

import numpy as np
import pytest

from stickeval.errors import MetricInputError
from stickeval.metrics.pose import pose_mse, root_relative_pose_mse, teacher_forced_mse


def test_copy_of_the_reference_scores_zero(clips):
    ref = clips.motion
    assert np.all(pose_mse(ref.copy(), ref, clips.lengths) == 0.0)
    assert np.all(root_relative_pose_mse(ref.copy(), ref, clips.lengths) == 0.0)


@pytest.mark.parametrize("dim", [20, 48])
def test_constant_offset_c_scores_c_squared_and_zero_root_relative(dim):
    ref = np.random.default_rng(0).standard_normal((3, 30, dim))
    assert np.allclose(pose_mse(ref + 0.3, ref), 0.09)
    assert np.allclose(root_relative_pose_mse(ref + 0.3, ref), 0.0)


def test_time_shifted_linear_ramp_scores_the_squared_shift():
    # Every coordinate moves 0.02 units per frame; a copy k = 5 frames ahead is off by 0.1 everywhere.
    ramp = 0.02 * np.arange(60.0)[None, :, None] * np.ones((2, 1, 20))
    assert np.allclose(pose_mse(ramp + 5 * 0.02, ramp), 0.1**2)


def test_frame_zero_and_padding_frames_are_not_scored():
    ref = np.zeros((1, 6, 20))
    gen = ref.copy()
    gen[0, 0] = 5.0  # the given first frame
    gen[0, 3:] = 7.0  # padding beyond length 3
    gen[0, 1] = 1.0  # scored frames are 1 and 2: mean of (1, 0)
    assert pose_mse(gen, ref, np.array([3]))[0] == pytest.approx(0.5)


def test_root_relative_mse_ignores_where_the_figure_stands_but_not_its_shape(figures):
    ref = figures.standing("v1", 20)[None]
    drift = np.linspace(0.0, 3.0, 20)[:, None] * np.tile([1.0, 0.5], 10)  # translate the whole figure
    gen = ref + drift
    gen[0, :, 14:16] += 0.4  # and move the left hand's end point (dims 14, 15) by (0.4, 0.4)
    # 2 of 20 coordinates off by 0.4 relative to the hip: 2 * 0.16 / 20 per frame.
    assert root_relative_pose_mse(gen, ref)[0] == pytest.approx(2 * 0.16 / 20)
    assert pose_mse(gen, ref)[0] > root_relative_pose_mse(gen, ref)[0]


def test_ordering_copy_below_plausible_but_wrong_below_white_noise(variants, clips):
    ref, lens = clips.motion, clips.lengths

    def mean(fn, name):
        return fn(variants[name], ref, lens).mean()

    assert mean(pose_mse, "copy") < mean(pose_mse, "shifted") < mean(pose_mse, "noise")
    rel = root_relative_pose_mse
    assert mean(rel, "copy") < mean(rel, "other") < mean(rel, "noise")


def test_model_copying_its_leaked_target_has_zero_teacher_forced_mse_but_large_rollout_mse(clips):
    motion, lens = clips.motion, clips.lengths
    leaked_copy = motion[:, 1:]  # position t outputs input t+1, which bidirectional attention lets it see
    rollout = np.repeat(motion[:, :1], motion.shape[1], axis=1)  # without the future it can only repeat
    assert np.all(teacher_forced_mse(leaked_copy, motion, lens) == 0.0)
    assert pose_mse(rollout, motion, lens).mean() > 0.1


def test_teacher_forced_mse_of_repeating_the_current_frame_is_the_squared_velocity():
    ramp = 0.03 * np.arange(40.0)[None, :, None] * np.ones((1, 1, 48))
    assert teacher_forced_mse(ramp[:, :-1], ramp)[0] == pytest.approx(0.03**2)


def test_teacher_forced_mse_ignores_positions_past_the_clip():
    motion = np.zeros((1, 10, 20))
    pred = np.zeros((1, 9, 20))
    pred[0, 4:] = 9.0  # positions 4.. predict frames 5.., padding for a 5-frame clip
    assert teacher_forced_mse(pred, motion, np.array([5]))[0] == 0.0


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(MetricInputError, match=r"\(2, 10, 20\).*\(2, 12, 20\)"):
        pose_mse(np.zeros((2, 10, 20)), np.zeros((2, 12, 20)))


def test_unknown_frame_width_is_refused():
    with pytest.raises(MetricInputError, match="21 numbers per frame"):
        pose_mse(np.zeros((1, 10, 21)), np.zeros((1, 10, 21)))


def test_non_finite_generated_clip_is_named():
    gen = np.zeros((3, 10, 20))
    gen[2, 4, 0] = np.nan
    with pytest.raises(MetricInputError, match=r"NaN or inf in 1 clip.*\[2\]"):
        pose_mse(gen, np.zeros((3, 10, 20)))


def test_empty_batch_and_bad_lengths_are_refused():
    with pytest.raises(MetricInputError, match="no clips"):
        pose_mse(np.zeros((0, 10, 20)), np.zeros((0, 10, 20)))
    with pytest.raises(MetricInputError, match=r"outside \[2, 10\]"):
        pose_mse(np.zeros((2, 10, 20)), np.zeros((2, 10, 20)), np.array([5, 11]))
    with pytest.raises(MetricInputError, match="integer array of shape"):
        pose_mse(np.zeros((2, 10, 20)), np.zeros((2, 10, 20)), np.array([5.0, 6.0]))


def test_teacher_forced_predictions_must_be_one_frame_shorter():
    with pytest.raises(MetricInputError, match=r"T-1.*\(1, 9, 20\).*got \(1, 10, 20\)"):
        teacher_forced_mse(np.zeros((1, 10, 20)), np.zeros((1, 10, 20)))
