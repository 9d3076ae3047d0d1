"""StickBench's kinematic models: skeleton invariants per action and the structure of each motion."""

import numpy as np
import pytest

from stickeval.data.motions import GRAVITY, stable_cos, stable_sin
from stickeval.data.prompts import SUBJECTS, Subject
from stickeval.data.schema import ACTION_TO_ID, FPS, V1, joints, segment_lengths
from stickeval.data.stickbench import ACTIONS, Part, render, sample_rng

EXTREMITIES = ("left_foot", "right_foot", "left_hand", "right_hand")
BALLISTIC = {"jump", "run", "sprint"}  # the only actions with a flight phase


def clip(action: str, *modifiers: str, seed: int = 0, subject: str = "a person") -> np.ndarray:
    who = next(s for s in SUBJECTS if s.text == subject)
    motion, _ = render((Part(action, modifiers),), who, sample_rng(seed, f"test/{action}"))
    return motion


def lowest(motion: np.ndarray) -> np.ndarray:
    j = joints(motion)
    return np.min([j[name][:, 1] for name in EXTREMITIES], axis=0)


def airborne_runs(motion: np.ndarray) -> int:
    up = (lowest(motion) > 1e-6).astype(int)
    return int(np.count_nonzero(np.diff(up) == 1) + up[0])


def lead_changes(motion: np.ndarray) -> int:
    """How often the leading foot changes: two per stride."""
    j = joints(motion)
    d = np.sign(j["left_foot"][:, 0] - j["right_foot"][:, 0])
    d = d[d != 0]
    return int(np.count_nonzero(np.diff(d)))


def test_stable_sin_and_cos_match_numpy_to_about_an_ulp():
    x = np.linspace(-400.0, 400.0, 200_001)
    assert np.abs(stable_sin(x) - np.sin(x)).max() < 5e-16
    assert np.abs(stable_cos(x) - np.cos(x)).max() < 5e-16


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_keeps_segment_lengths_constant(action):
    lengths = segment_lengths(clip(action))
    assert (lengths.std(axis=0) / lengths.mean(axis=0)).max() < 1e-9


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_keeps_shared_joints_exactly_connected(action):
    motion = clip(action)
    for joint in V1.joint_names:
        at = [4 * k + (0 if start == joint else 2) for k, (_, start, end) in enumerate(V1.segments) if joint in (start, end)]
        for i in at[1:]:
            np.testing.assert_array_equal(motion[:, i : i + 2], motion[:, at[0] : at[0] + 2], err_msg=joint)


@pytest.mark.parametrize("action", ACTIONS)
def test_no_hand_or_foot_goes_below_the_ground(action):
    assert lowest(clip(action)).min() >= 0.0


@pytest.mark.parametrize("action", ACTIONS)
def test_the_figure_touches_the_ground_unless_in_flight(action):
    low = lowest(clip(action))
    if action in BALLISTIC:
        assert 0 < np.mean(low > 1e-6) < 0.7
    else:
        assert np.all(low == 0.0)


def test_walking_feet_alternate_support():
    j = joints(clip("walk"))
    left_down, right_down = j["left_foot"][:, 1] < 1e-9, j["right_foot"][:, 1] < 1e-9
    alone = np.where(left_down & ~right_down, "L", np.where(right_down & ~left_down, "R", ""))
    sequence = [s for s in alone if s]
    supports = [s for k, s in enumerate(sequence) if k == 0 or s != sequence[k - 1]]
    assert len(supports) >= 12  # ~1.8 steps/s for 10 s
    assert all(a != b for a, b in zip(supports, supports[1:]))


def test_walking_stance_foot_stays_planted_while_the_hip_moves():
    j = joints(clip("walk"))
    hip_speed = np.abs(np.diff(j["hip"][:, 0])).mean()
    for foot, other in (("left_foot", "right_foot"), ("right_foot", "left_foot")):
        alone = (j[foot][:-1, 1] < 1e-9) & (j[other][:-1, 1] > 1e-4)
        assert np.abs(np.diff(j[foot][:, 0]))[alone].mean() < 0.15 * hip_speed


def test_walking_arms_swing_against_the_legs():
    j = joints(clip("walk"))
    for side in ("left", "right"):
        arm = j[f"{side}_hand"][:, 0] - j["neck"][:, 0]
        leg = j[f"{side}_foot"][:, 0] - j["hip"][:, 0]
        assert np.corrcoef(arm, leg)[0, 1] < -0.5


def test_slowly_halves_the_walking_cadence_of_the_same_prompt():
    for seed in range(3):
        ratio = lead_changes(clip("walk", "slowly", seed=seed)) / lead_changes(clip("walk", seed=seed))
        assert 0.4 <= ratio <= 0.6


def test_quickly_raises_the_walking_cadence():
    assert 1.3 <= lead_changes(clip("walk", "quickly")) / lead_changes(clip("walk")) <= 1.7


def test_to_the_left_and_to_the_right_set_the_walking_direction():
    for modifier, sign in (("to the left", -1), ("to the right", 1)):
        hip_x = joints(clip("walk", modifier))["hip"][:, 0]
        assert sign * (hip_x[-1] - hip_x[0]) > 5.0


def test_sprinting_is_faster_than_running_which_is_faster_than_walking():
    speed = {a: abs(joints(clip(a))["hip"][-1, 0] - joints(clip(a))["hip"][0, 0]) / 10 for a in ("walk", "run", "sprint")}
    assert speed["walk"] < speed["run"] < speed["sprint"]
    assert 1.0 < speed["walk"] < 3.0  # units/s, 1 unit = 0.5 m


def test_a_jump_crouches_then_flies_ballistically():
    motion = clip("jump", "once")
    hip_y = joints(motion)["hip"][:, 1]
    flight = np.flatnonzero(lowest(motion) > 1e-6)
    assert len(flight) >= 5 and np.all(np.diff(flight) == 1)  # one contiguous flight
    assert hip_y[max(0, flight[0] - 15) : flight[0]].min() < hip_y[0] - 0.1  # crouch before takeoff
    accel = np.diff(hip_y[flight[1:-1]], 2) * FPS**2
    np.testing.assert_allclose(accel, -GRAVITY, rtol=0.1)


@pytest.mark.parametrize(("modifier", "n"), [("once", 1), ("twice", 2), ("three times", 3)])
def test_count_modifiers_set_the_number_of_jumps(modifier, n):
    assert airborne_runs(clip("jump", modifier)) == n


def test_a_wave_raises_the_chosen_hand_above_the_shoulder_and_swings_it():
    for modifier, up, down in (("with the right hand", "right_hand", "left_hand"), ("with the left hand", "left_hand", "right_hand")):
        j = joints(clip("wave", modifier))
        later = slice(FPS, None)
        assert np.all(j[up][later, 1] > j["neck"][later, 1])
        assert np.all(j[down][:, 1] < j["neck"][:, 1])
        swings = np.count_nonzero(np.diff(np.sign(np.diff(j[up][later, 0]))))
        assert swings >= 20  # ~1.6 Hz over 9 s, two turns per cycle


def test_slowly_halves_the_waving_frequency():
    def turns(motion):
        x = joints(motion)["right_hand"][FPS:, 0]
        return np.count_nonzero(np.diff(np.sign(np.diff(x))))

    ratio = turns(clip("wave", "slowly", "with the right hand")) / turns(clip("wave", "with the right hand"))
    assert 0.4 <= ratio <= 0.6


def test_sitting_lowers_the_hip_and_standing_up_raises_it():
    sit, stand = joints(clip("sit"))["hip"][:, 1], joints(clip("stand"))["hip"][:, 1]
    assert sit[-1] < 0.7 * sit[0]
    assert stand[-1] > 1.4 * stand[0]


def test_crawling_keeps_the_torso_near_horizontal_with_hands_reaching_the_ground():
    j = joints(clip("crawling"))
    assert np.all(np.abs(j["neck"][:, 1] - j["hip"][:, 1]) < 0.3)
    hands_low = np.minimum(j["left_hand"][:, 1], j["right_hand"][:, 1])
    assert np.median(hands_low) < 0.1


def test_a_kick_lifts_the_kicking_foot_while_the_other_stays_down():
    j = joints(clip("kick", "with the right leg", "once"))
    assert j["right_foot"][:, 1].max() > 0.6
    assert j["left_foot"][:, 1].max() < 0.05


def test_pointing_holds_the_arm_horizontal_toward_the_direction():
    j = joints(clip("point", "to the left", "with the right hand", "once"))
    reach = j["right_hand"][:, 0] - j["neck"][:, 0]
    arm = np.linalg.norm(j["right_hand"][0] - j["neck"][0])
    held = reach < -0.97 * arm
    assert held.sum() > FPS  # held out for over a second
    assert np.all(np.abs(j["right_hand"][held, 1] - j["neck"][held, 1]) < 0.25 * arm)


def test_clapping_hands_meet_again_and_again():
    j = joints(clip("clap"))
    together = (np.linalg.norm(j["left_hand"] - j["right_hand"], axis=1) < 0.05).astype(int)
    assert np.count_nonzero(np.diff(together) == 1) >= 10


def test_punches_extend_an_arm_and_count_sets_how_many():
    j = joints(clip("punch", "twice"))
    reach = np.max([np.abs(j[h][:, 0] - j["neck"][:, 0]) for h in ("left_hand", "right_hand")], axis=0)
    arm = np.linalg.norm(j["left_hand"][0] - j["neck"][0])
    out = (reach > 0.95 * arm).astype(int)  # the guard holds the hands at most ~0.85 arm out
    assert np.count_nonzero(np.diff(out) == 1) == 2


def test_a_dodge_leans_toward_the_direction():
    for modifier, sign in (("to the left", -1), ("to the right", 1)):
        j = joints(clip("dodge", modifier, "once"))
        assert (sign * (j["neck"][:, 0] - j["hip"][:, 0])).max() > 0.3


def test_dancing_arms_move_in_alternation_and_celebrating_arms_go_overhead():
    dance = joints(clip("dance"))
    assert np.corrcoef(dance["left_hand"][:, 1], dance["right_hand"][:, 1])[0, 1] < -0.5
    cheer = joints(clip("celebrate"))
    assert np.all(cheer["left_hand"][FPS:, 1] > cheer["neck"][FPS:, 1])
    assert np.all(cheer["right_hand"][FPS:, 1] > cheer["neck"][FPS:, 1])


def test_a_child_is_smaller_than_a_tall_person():
    child = segment_lengths(clip("idle", subject="a child"))[0]
    tall = segment_lengths(clip("idle", subject="a tall person"))[0]
    assert np.all(child < 0.85 * tall)


def test_a_two_part_clip_switches_action_track_and_motion_at_the_boundary():
    parts = (Part("walk", (), 150), Part("wave", ("with the right hand",), 100))
    motion, actions = render(parts, Subject("a person"), sample_rng(0, "test/two-part"))
    np.testing.assert_array_equal(actions, [ACTION_TO_ID["walk"]] * 150 + [ACTION_TO_ID["wave"]] * 100)
    j = joints(motion)
    assert abs(j["hip"][149, 0] - j["hip"][0, 0]) > 3.0  # walked
    assert np.ptp(j["hip"][175:, 0]) < 0.1  # then stood to wave
    assert np.all(j["right_hand"][200:, 1] > j["neck"][200:, 1])
    lengths = segment_lengths(motion)
    assert (lengths.std(axis=0) / lengths.mean(axis=0)).max() < 1e-9
