"""Clip corruptions: each changes a clip in exactly the one way its name says, and keeps its segments joined."""

import numpy as np
import pytest

from stickeval.data.schema import V1, V3, joints
from stickeval.metrics.corruptions import (
    change_speed,
    jitter_joints,
    moving_average,
    reverse_clips,
    shake,
    shuffle_clips,
    swap_sides,
)
from stickeval.metrics.features import body_scale


@pytest.fixture(scope="module")
def walk():
    """Three v1 clips of 40 real frames (padding holds the last), a figure of torso 2 swinging its limbs."""
    t = np.arange(60)[:, None]
    neck, hip = np.array([0.0, 2.0]), np.array([0.0, 0.0])
    swing = np.hstack([np.sin(t / 5), np.cos(t / 7)])  # [T, 2]
    joint = {
        "neck": neck + 0 * swing,
        "hip": hip + 0.1 * t * np.array([1.0, 0.0]),
        "left_foot": np.array([-0.5, -2.0]) + swing,
        "right_foot": np.array([0.5, -2.0]) - swing,
        "left_hand": np.array([-1.0, 1.0]) + 0.5 * swing,
        "right_hand": np.array([1.0, 1.0]) - 0.3 * swing,
    }
    joint["neck"] = joint["neck"] + joint["hip"]
    frame = np.concatenate([np.hstack([joint[a], joint[b]]) for _, a, b in V1.segments], axis=1)  # [T, 20]
    motion = np.stack([frame, frame * 1.5, frame + 3.0])
    lengths = np.array([40, 40, 40])
    motion[:, 40:] = motion[:, 39:40]
    return motion, lengths


def _joined(motion, schema=V1):
    """Largest gap between two segment ends that name the same joint."""
    ends = {}
    for k, (_, a, b) in enumerate(schema.segments):
        ends.setdefault(a, []).append(motion[..., 4 * k : 4 * k + 2])
        ends.setdefault(b, []).append(motion[..., 4 * k + 2 : 4 * k + 4])
    return max(np.abs(e - same[0]).max() for same in ends.values() for e in same)


def test_joint_jitter_leaves_the_hip_in_place_and_moves_the_rest_by_the_asked_share_of_body_scale(walk):
    motion, lengths = walk
    out = jitter_joints(motion, lengths, 0.05, np.random.default_rng(0))
    before, after = joints(motion), joints(out)
    np.testing.assert_array_equal(after["hip"], before["hip"])
    moved = np.stack([after[j] - before[j] for j in ("neck", "left_hand", "right_foot")])  # [3, N, T, 2]
    sd = moved.std(axis=(0, 2, 3)) / body_scale(motion, lengths)
    np.testing.assert_allclose(sd, 0.05, rtol=0.15)
    assert _joined(out) == 0.0


def test_shake_moves_the_whole_figure_rigidly(walk):
    motion, lengths = walk
    out = shake(motion, lengths, 0.05, np.random.default_rng(0))
    offsets = out - motion  # every coordinate pair moves by the frame's one offset
    np.testing.assert_allclose(offsets[..., 0::2], offsets[..., :1].repeat(10, axis=-1), atol=1e-12)
    np.testing.assert_allclose(offsets[..., 1::2], offsets[..., 1:2].repeat(10, axis=-1), atol=1e-12)
    assert 0.03 < offsets[..., 0].std() / body_scale(motion, lengths).mean() < 0.07


def test_half_speed_shows_each_frame_twice_as_late_and_interpolates_between_smoothly(walk):
    motion, lengths = walk
    slow = change_speed(motion, lengths, 0.5)
    np.testing.assert_allclose(slow[:, 10], motion[:, 5])
    # halfway between frames 5 and 6: the Catmull-Rom midpoint, (-x4 + 9 x5 + 9 x6 - x7) / 16
    np.testing.assert_allclose(slow[:, 11], (-motion[:, 4] + 9 * motion[:, 5] + 9 * motion[:, 6] - motion[:, 7]) / 16)
    np.testing.assert_allclose(change_speed(motion, lengths, 1.0), motion)
    glide = np.linspace(0.0, 39.0, 40)[None, :, None] * np.ones((1, 1, 20))  # a steady glide stays one (past frame 1)
    np.testing.assert_allclose(change_speed(glide, np.array([40]), 0.5)[0, 2:40, 0], np.arange(2, 40) * 0.5)


def test_double_speed_plays_back_from_the_clip_end_instead_of_freezing(walk):
    motion, lengths = walk  # 40 real frames: time 2t runs past frame 39 at t = 20
    fast = change_speed(motion, lengths, 2.0)
    np.testing.assert_allclose(fast[:, 10], motion[:, 20])
    np.testing.assert_allclose(fast[:, 25], motion[:, 28])  # 2 x 25 = 50 = 39 + 11: 11 frames back from 39
    np.testing.assert_allclose(fast[:, 45], fast[:, 39])  # padding holds the last real output frame


def test_swapping_sides_trades_left_and_right_limbs_and_twice_restores_the_clip(walk):
    motion, _ = walk
    out = swap_sides(motion)
    before, after = joints(motion), joints(out)
    np.testing.assert_array_equal(after["left_hand"], before["right_hand"])
    np.testing.assert_array_equal(after["right_foot"], before["left_foot"])
    np.testing.assert_array_equal(after["neck"], before["neck"])
    np.testing.assert_array_equal(swap_sides(out), motion)


def test_swapping_sides_of_a_v3_figure_keeps_its_segments_joined():
    rng = np.random.default_rng(0)
    pos = rng.standard_normal((2, 8, len(V3.joint_names), 2))
    index = {j: i for i, j in enumerate(V3.joint_names)}
    motion = np.concatenate([np.concatenate([pos[:, :, index[a]], pos[:, :, index[b]]], -1) for _, a, b in V3.segments], -1)
    out = swap_sides(motion)
    assert _joined(out, V3) == 0.0
    np.testing.assert_array_equal(joints(out, V3)["l_wrist"], joints(motion, V3)["r_wrist"])
    np.testing.assert_array_equal(joints(out, V3)["pelvis_center"], joints(motion, V3)["pelvis_center"])


def test_reversing_twice_restores_the_real_frames_and_padding_holds_the_new_last_frame():
    motion = np.arange(2 * 6 * 20, dtype=np.float64).reshape(2, 6, 20)
    lengths = np.array([6, 4])
    once = reverse_clips(motion, lengths)
    np.testing.assert_array_equal(once[1, :4], motion[1, [3, 2, 1, 0]])
    np.testing.assert_array_equal(once[1, 4:], motion[1, [0, 0]])
    np.testing.assert_array_equal(reverse_clips(once, lengths)[:, :4], motion[:, :4])


def test_shuffling_keeps_the_clip_frames_and_only_their_order_changes():
    motion = np.arange(30 * 20, dtype=np.float64).reshape(1, 30, 20)
    out = shuffle_clips(motion, np.array([25]), np.random.default_rng(0))
    assert sorted(out[0, :25, 0]) == sorted(motion[0, :25, 0])
    assert not np.array_equal(out[0, :25], motion[0, :25])
    np.testing.assert_array_equal(out[0, 25:], np.repeat(out[0, 24:25], 5, axis=0))


def test_moving_average_known_answer_and_a_still_clip_stays_still():
    ramp = np.tile(np.array([0.0, 0.0, 3.0, 6.0, 6.0])[None, :, None], (2, 1, 20))
    out = moving_average(ramp, np.array([3, 1]))
    np.testing.assert_allclose(out[0, :, 0], [0.0, 1.0, 3.0, 5.0, 6.0])  # edges repeat the end frames
    np.testing.assert_array_equal(out[1], ramp[1])  # a window of 1 changes nothing
    still = np.ones((1, 30, 20))
    np.testing.assert_allclose(moving_average(still, 15), still)
