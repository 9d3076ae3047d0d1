"""Kinematic motion models of StickBench: one function per action, giving joint angles over time.

Each model maps the seconds since its action began to body-frame angles of a v1 stick figure
(torso, two legs, two arms: rigid sticks of fixed length) plus the root's displacement and
ballistic lift. `stickbench.py` turns them into segment coordinates with forward kinematics, so
segment lengths are constant by construction and the ground contact is solved there.

Conventions (also in docs/data.md):
- Angles are radians from the limb hanging straight down (the torso: from upright). `*_fwd`
  turns toward the facing direction `direction` (+1 = +x), `*_abd` turns a limb away from the
  body's midline (the left side lies at -x, as in the original renderer), `torso_lat` toward +x.
- Limb channels are [2, n] arrays: row 0 left, row 1 right.
- Time is in seconds; gravity is `GRAVITY` units/s² with 1 unit = 0.5 m (an adult torso).

Every transcendental function is `stable_sin`/`stable_cos`: numpy's own `sin` uses CPU-specific
SIMD kernels whose last bit differs across machines, and stickbench-v1 must be bit-identical
everywhere. Only IEEE-exact arithmetic (+, -, *, /, sqrt, rint, floor) is used otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRAVITY = 19.62  # units/s²: 9.81 m/s² with 1 unit = 0.5 m
PI = 3.141592653589793
REST_LEG_ABD = 0.2  # feet at hip ± 0.3, 1.47 below it (the original synthetic skeleton)
REST_ARM_ABD = 0.6435  # hands at neck + (±0.6, -0.8)

# fdlibm's split of pi/2 and its sin/cos kernel coefficients on [-pi/4, pi/4].
_PIO2_HI, _PIO2_LO = 1.5707963267341256e00, 6.0771005065061922e-11
_S = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
_C = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)


def _kernels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reduce x to r in [-pi/4, pi/4] and quadrant q; return (sin r, cos r, q)."""
    x = np.asarray(x, dtype=np.float64)
    k = np.rint(x * (2.0 / PI))
    r = (x - k * _PIO2_HI) - k * _PIO2_LO
    z = r * r
    s = r + r * z * (_S[0] + z * (_S[1] + z * (_S[2] + z * (_S[3] + z * (_S[4] + z * _S[5])))))
    c = 1.0 - 0.5 * z + z * z * (_C[0] + z * (_C[1] + z * (_C[2] + z * (_C[3] + z * (_C[4] + z * _C[5])))))
    return s, c, k.astype(np.int64) & 3


def stable_sincos(x: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """(sin x, cos x) to ~1 ulp for |x| < 1e5, bit-identical on every CPU (polynomial, IEEE arithmetic only)."""
    s, c, q = _kernels(x)
    odd = (q & 1).astype(bool)
    sin = np.where(odd, c, s) * (1 - 2 * ((q >> 1) & 1))  # quadrants 0..3: s, c, -s, -c
    cos = np.where(odd, s, c) * (1 - 2 * (((q + 1) >> 1) & 1))  # c, -s, -c, s
    return sin, cos


def stable_sin(x: np.ndarray | float) -> np.ndarray:
    """sin(x), see `stable_sincos`."""
    return stable_sincos(x)[0]


def stable_cos(x: np.ndarray | float) -> np.ndarray:
    """cos(x), see `stable_sincos`."""
    return stable_sincos(x)[1]


@dataclass(frozen=True)
class Body:
    """Segment lengths of one figure, in units."""

    torso: float
    leg: float
    arm: float

    @classmethod
    def scaled(cls, scale: float) -> Body:
        """The synthetic skeleton (torso 1.0, leg 1.5, arm 1.0) times `scale`."""
        return cls(1.0 * scale, 1.5 * scale, 1.0 * scale)


@dataclass(frozen=True)
class MotionParams:
    """How one action is performed.

    Attributes:
        speed: multiplier of cadence (cyclic actions) and of tempo (discrete ones); "slowly" is 0.5.
        amplitude: multiplier of the movement's size.
        count: repetitions of a discrete action, then stillness; None repeats it to fill the time.
        direction: +1 or -1: facing for locomotion and gestures, target side for point and dodge.
        side: limb that performs one-sided actions (wave, point, punch, kick, kneel): -1 left, +1 right.
        phase: start phase of cyclic actions, in cycles [0, 1).
    """

    speed: float = 1.0
    amplitude: float = 1.0
    count: int | None = None
    direction: int = 1
    side: int = 1
    phase: float = 0.0


@dataclass
class Pose:
    """Body-frame channels over n frames (limbs [2, n]: left, right); see the module docstring."""

    torso_fwd: np.ndarray
    torso_lat: np.ndarray
    leg_fwd: np.ndarray
    leg_abd: np.ndarray
    arm_fwd: np.ndarray
    arm_abd: np.ndarray
    root_fwd: np.ndarray  # displacement toward the facing direction since the action began
    root_lat: np.ndarray  # displacement toward +x
    lift: np.ndarray  # height above ground contact (> 0 only in flight)

    @classmethod
    def rest(cls, n: int) -> Pose:
        """Standing still: legs slightly apart, arms hanging at the original skeleton's angle."""
        limbs = (2, n)
        return cls(
            torso_fwd=np.zeros(n),
            torso_lat=np.zeros(n),
            leg_fwd=np.zeros(limbs),
            leg_abd=np.full(limbs, REST_LEG_ABD),
            arm_fwd=np.zeros(limbs),
            arm_abd=np.full(limbs, REST_ARM_ABD),
            root_fwd=np.zeros(n),
            root_lat=np.zeros(n),
            lift=np.zeros(n),
        )


def _smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep: 0 below 0, 1 above 1, C1 in between."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ramp(t: np.ndarray, start: float, duration: float) -> np.ndarray:
    """0 before `start`, smoothly 1 after `start + duration`."""
    return _smooth((t - start) / duration)


def _bump(t: np.ndarray, start: float, rise: float, hold: float, fall: float) -> np.ndarray:
    """0 → 1 over `rise`, held for `hold`, back to 0 over `fall`."""
    return _ramp(t, start, rise) - _ramp(t, start + rise + hold, fall)


def _repeat(t: np.ndarray, lead: float, duration: float, gap: float, count: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Schedule of a discrete action: repetition index k and time within it, -1 / 0 while idle.

    Repetition k runs on [lead + k(duration + gap), ... + duration). `count=None` repeats forever.
    """
    period = duration + gap
    k = np.floor((t - lead) / period)
    local = (t - lead) - k * period
    active = (k >= 0) & (local < duration) & (True if count is None else k < count)
    return np.where(active, k, -1).astype(np.int64), np.where(active, local, 0.0)


def _breathe(pose: Pose, t: np.ndarray) -> Pose:
    """Add the slow sway of a person at rest: breathing lean and a weight shift."""
    pose.torso_fwd += 0.02 * stable_sin(2 * PI * 0.25 * t)
    shift = 0.03 * stable_sin(2 * PI * 0.1 * t + 1.0)
    pose.leg_abd += np.stack([shift, -shift])
    pose.arm_abd += 0.02 * stable_sin(2 * PI * 0.25 * t + 2.0)
    return pose


# LOCOMOTION


def _compass_legs(steps: np.ndarray, u: np.ndarray, amp: float) -> np.ndarray:
    """Leg angles [2, n] for stance u ∈ [-1, 1] (front to back): the swing leg stays higher.

    The stance leg is at `amp·u`; the swing leg at `-amp·sin(pi/2·u)`, whose magnitude is never
    below the stance leg's, so with rigid legs the swing foot clears the ground except at
    double support. Right is the stance leg on even steps.
    """
    stance, swing = amp * u, -amp * stable_sin(0.5 * PI * u)
    right_stance = np.floor(steps) % 2 == 0
    return np.stack([np.where(right_stance, swing, stance), np.where(right_stance, stance, swing)])


def _arm_swing(pose: Pose, phi: np.ndarray, amp: float, abd: float) -> None:
    """Arms counter-swing: each arm is forward while the leg on its side is back."""
    swing = amp * stable_cos(2 * PI * phi)
    pose.arm_fwd[:] = np.stack([swing, -swing])
    pose.arm_abd[:] = abd


def walk(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Walking: a compass gait whose planted stance foot carries the hip (inverted-pendulum bob)."""
    pose = Pose.rest(t.size)
    alpha = 0.32 * p.amplitude
    phi = p.phase + 0.9 * p.speed * t  # strides (two steps) per second
    steps = 2 * phi
    u = 1 - 2 * (steps - np.floor(steps))
    pose.leg_fwd[:] = _compass_legs(steps, u, alpha)
    pose.leg_abd[:] = 0.0
    step_length = 2 * body.leg * stable_sin(alpha)
    hip = np.floor(steps) * step_length - body.leg * stable_sin(alpha * u)  # stance foot planted
    pose.root_fwd = hip - hip[0]
    _arm_swing(pose, phi, 0.35 * p.amplitude, 0.12)
    pose.torso_fwd[:] = 0.06 + 0.02 * stable_cos(4 * PI * phi)
    return pose


def _running(t: np.ndarray, body: Body, p: MotionParams, stride_hz: float, beta: float, duty: float, lean: float, arms: float) -> Pose:
    """A running gait: rigid-leg stance (share `duty` of each step) then a ballistic flight."""
    pose = Pose.rest(t.size)
    beta *= p.amplitude
    step_s = 1 / (2 * stride_hz * p.speed)
    phi = p.phase + t / (2 * step_s)
    steps = 2 * phi
    s = steps - np.floor(steps)
    in_stance = s < duty
    u = np.where(in_stance, 1 - 2 * s / duty, -1.0)
    pose.leg_fwd[:] = _compass_legs(steps, u, beta)  # in flight: front leg +beta, back leg -beta
    pose.leg_abd[:] = 0.0
    stance_s, flight_s = duty * step_s, (1 - duty) * step_s
    takeoff_v = 2 * body.leg * beta * stable_cos(beta) / stance_s  # hip speed as the foot leaves
    step_length = 2 * body.leg * stable_sin(beta) + takeoff_v * flight_s
    tau = np.where(in_stance, 0.0, (s - duty) * step_s)  # time since takeoff
    hip = np.floor(steps) * step_length + np.where(
        in_stance, -body.leg * stable_sin(beta * u), body.leg * stable_sin(beta) + takeoff_v * tau
    )
    pose.root_fwd = hip - hip[0]
    pose.lift = np.where(in_stance, 0.0, 0.5 * GRAVITY * tau * (flight_s - tau))
    _arm_swing(pose, phi, arms * p.amplitude, 0.15)
    pose.arm_fwd += 0.3  # elbows bent: hands carried forward
    pose.torso_fwd[:] = lean
    return pose


def run(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Running: 2.8 steps/s, half of each step in flight."""
    return _running(t, body, p, stride_hz=1.4, beta=0.4, duty=0.5, lean=0.15, arms=0.55)


def sprint(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Sprinting: 3.5 steps/s, longer strides and flights, strong forward lean."""
    return _running(t, body, p, stride_hz=1.75, beta=0.5, duty=0.4, lean=0.3, arms=0.8)


def crawling(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Crawling on hands and feet, torso horizontal, diagonal limbs moving together."""
    pose = Pose.rest(t.size)
    phi = p.phase + 0.6 * p.speed * t
    swing = 0.25 * p.amplitude * stable_sin(2 * PI * phi)
    pose.torso_fwd[:] = 1.5
    pose.leg_fwd[:] = np.stack([-1.15 + swing, -1.15 - swing])
    pose.arm_fwd[:] = np.stack([-swing, swing])  # left arm with the right leg
    pose.leg_abd[:] = 0.05
    pose.arm_abd[:] = 0.05
    stride = 4 * body.arm * stable_sin(0.25 * p.amplitude)
    pose.root_fwd = stride * 0.6 * p.speed * t
    return pose


# IN PLACE, CYCLIC


def idle(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Standing still, breathing and shifting weight."""
    return _breathe(Pose.rest(t.size), t)


def wave(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Waving: one arm raised above the shoulder, swinging side to side at ~1.6 Hz."""
    pose = _breathe(Pose.rest(t.size), t)
    arm = (p.side + 1) // 2
    up = _ramp(t, 0.2, 0.5 / p.speed)
    phi = p.phase + 1.6 * p.speed * t
    pose.arm_abd[arm] = REST_ARM_ABD + up * (2.55 - REST_ARM_ABD + 0.3 * p.amplitude * stable_sin(2 * PI * phi))
    return pose


def clap(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Clapping: both hands in front of the chest, meeting twice a second."""
    pose = _breathe(Pose.rest(t.size), t)
    up = _ramp(t, 0.1, 0.4 / p.speed)
    phi = p.phase + 2.0 * p.speed * t
    apart = 0.25 * p.amplitude * (1 + stable_cos(2 * PI * phi))  # 0 when the hands meet
    pose.arm_fwd[:] = up * 1.25
    pose.arm_abd[:] = (1 - up) * REST_ARM_ABD + up * apart
    return pose


def dance(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Dancing to a beat of 2/s: bouncing knees, swaying torso, arms alternately up and down."""
    pose = Pose.rest(t.size)
    phi = p.phase + 1.0 * p.speed * t
    sway = stable_sin(2 * PI * phi)
    bounce = 0.5 * (1 - stable_cos(4 * PI * phi))
    pose.torso_lat[:] = -0.15 * p.amplitude * sway
    pose.leg_abd[:] = REST_LEG_ABD + 0.15 * p.amplitude * bounce + np.stack([0.08 * sway, -0.08 * sway])
    pose.leg_fwd[:] = np.stack([0.15 * sway, -0.15 * sway]) * p.amplitude
    pose.arm_abd[:] = 1.2 + 0.9 * p.amplitude * np.stack([sway, -sway])
    return pose


def celebrate(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Celebrating: both arms raised overhead, pumping, knees bouncing."""
    pose = Pose.rest(t.size)
    up = _ramp(t, 0.1, 0.4 / p.speed)
    phi = p.phase + 2.0 * p.speed * t
    pump = 0.25 * p.amplitude * stable_sin(2 * PI * phi)
    pose.arm_abd[:] = REST_ARM_ABD + up * (2.6 - REST_ARM_ABD + pump)
    pose.leg_abd[:] = REST_LEG_ABD + 0.12 * p.amplitude * 0.5 * (1 - stable_cos(2 * PI * phi))
    pose.torso_fwd[:] = -0.08 * up
    return pose


# IN PLACE, DISCRETE (repeated `count` times, or to fill the time)


def jump(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Jumping in place: crouch, push-off, ballistic flight, landing absorbed by the legs."""
    pose = Pose.rest(t.size)
    crouch, push, land = 0.35 / p.speed, 0.15, 0.4 / p.speed
    flight = 2 * np.sqrt(2 * 0.35 * p.amplitude / GRAVITY)  # apex 0.35 units × amplitude
    k, tau = _repeat(t, 0.3, crouch + push + flight + land, 0.5 / p.speed, p.count)
    on = k >= 0
    t_land = crouch + push + flight
    bend = 0.45 * (_ramp(tau, 0, crouch) - _ramp(tau, crouch, push)) + 0.3 * _bump(tau, t_land, 0.08, 0.05, land - 0.13)
    pose.leg_abd += np.where(on, bend, 0.0)
    arms = -0.5 * _ramp(tau, 0, crouch) + 2.5 * _ramp(tau, crouch, push + 0.1) - 2.0 * _ramp(tau, t_land, land)
    pose.arm_abd += np.where(on, arms, 0.0)  # down to the sides, then flung overhead
    pose.torso_fwd[:] = np.where(on, 0.3 * _bump(tau, 0, crouch, 0.0, push), 0.0)
    airborne = on & (tau >= crouch + push) & (tau < t_land)
    air_t = tau - crouch - push
    pose.lift = np.where(airborne, 0.5 * GRAVITY * air_t * (flight - air_t), 0.0)
    return pose


def point(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Pointing: one arm raised to horizontal toward `direction`, held, lowered."""
    pose = _breathe(Pose.rest(t.size), t)
    arm = (p.side + 1) // 2
    raise_s, hold = 0.4 / p.speed, 1.5
    k, tau = _repeat(t, 0.3, 2 * raise_s + hold, 0.8 / p.speed, p.count)
    level = np.where(k >= 0, _bump(tau, 0, raise_s, hold, raise_s), 0.0)
    target = p.side * p.direction * (0.5 * PI + 0.1 * (p.amplitude - 1))  # abd that aims at `direction`
    pose.arm_abd[arm] = REST_ARM_ABD + level * (target - REST_ARM_ABD)
    pose.torso_lat += 0.05 * p.direction * level
    return pose


def _guard(pose: Pose, p: MotionParams) -> Pose:
    """Fighting stance: fists up in front, feet staggered."""
    pose.arm_fwd[:] = 0.9
    pose.arm_abd[:] = 0.1
    pose.leg_fwd[:] = np.array([[0.2], [-0.2]]) * p.side
    pose.leg_abd[:] = 0.1
    return pose


def punch(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Punching from a guard: an arm snaps out to horizontal and back, hands alternating."""
    pose = _guard(Pose.rest(t.size), p)
    out, back = 0.12 / p.speed, 0.2 / p.speed
    k, tau = _repeat(t, 0.3, out + 0.05 + back, 0.35 / p.speed, p.count)
    strike = np.where(k >= 0, _bump(tau, 0, out, 0.05, back), 0.0)
    first = (p.side + 1) // 2
    striking = np.where(k % 2 == 0, first, 1 - first)
    for arm in (0, 1):
        pose.arm_fwd[arm] += np.where(striking == arm, strike, 0.0) * (0.5 * PI - 0.9) * p.amplitude
    pose.torso_fwd += 0.1 * strike
    return pose


def kick(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Kicking: one leg swings forward to near hip height and back; arms out for balance."""
    pose = _guard(Pose.rest(t.size), p)
    leg = (p.side + 1) // 2
    up, down = 0.25 / p.speed, 0.3 / p.speed
    k, tau = _repeat(t, 0.3, up + 0.05 + down, 0.6 / p.speed, p.count)
    level = np.where(k >= 0, _bump(tau, 0, up, 0.05, down), 0.0)
    pose.leg_fwd[leg] = (1 - level) * pose.leg_fwd[leg] + level * 1.3 * p.amplitude
    pose.leg_fwd[1 - leg] *= 1 - level
    pose.torso_fwd -= 0.25 * level
    pose.arm_abd += 0.8 * level
    return pose


def dodge(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Dodging: a quick sideways lean and step toward `direction`, legs bent, then recovery."""
    pose = Pose.rest(t.size)
    go, hold, back = 0.2 / p.speed, 0.25, 0.35 / p.speed
    k, tau = _repeat(t, 0.3, go + hold + back, 0.6 / p.speed, p.count)
    level = np.where(k >= 0, _bump(tau, 0, go, hold, back), 0.0)
    pose.torso_lat += 0.55 * p.amplitude * p.direction * level
    pose.root_lat = 0.5 * p.amplitude * p.direction * level
    pose.leg_abd += 0.3 * level
    pose.arm_abd += 0.6 * level
    pose.arm_fwd += 0.6 * level
    return pose


# POSTURE CHANGES (then held)


def _seated(pose: Pose, level: np.ndarray, descending: np.ndarray) -> Pose:
    """Blend from standing (level 0) to seated (1): legs forward so the hip drops to 0.8 units·scale."""
    pose.leg_fwd[:] = level * 1.0
    pose.leg_abd[:] = REST_LEG_ABD * (1 - level) + 0.12 * level
    pose.torso_fwd[:] = 0.4 * descending + 0.05 * level
    pose.arm_fwd[:] = 0.55 * level
    pose.arm_abd[:] = REST_ARM_ABD * (1 - level) + 0.3 * level
    return pose


def sit(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Sitting down: lean forward, lower the hip over ~1.2 s, stay seated."""
    pose = _breathe(Pose.rest(t.size), t)
    start, dur = 0.4, 1.2 / p.speed
    return _seated(pose, _ramp(t, start, dur), _bump(t, start, dur / 2, 0.0, dur / 2))


def stand(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Standing up: from seated, lean forward and rise over ~1.2 s, then stand."""
    pose = _breathe(Pose.rest(t.size), t)
    start, dur = 0.4, 1.2 / p.speed
    return _seated(pose, 1 - _ramp(t, start, dur), _bump(t, start, dur / 2, 0.0, dur / 2))


def kneel(t: np.ndarray, body: Body, p: MotionParams) -> Pose:
    """Kneeling on one knee: one leg forward, the other back, the hip low; held."""
    pose = _breathe(Pose.rest(t.size), t)
    front = (p.side + 1) // 2
    level = _ramp(t, 0.4, 1.0 / p.speed)
    pose.leg_fwd[front] = 0.9 * level
    pose.leg_fwd[1 - front] = -0.9 * level
    pose.leg_abd[:] = REST_LEG_ABD * (1 - level) + 0.05 * level
    pose.arm_fwd[front] = 0.6 * level  # hand on the front knee
    return pose


Model = Callable[[np.ndarray, Body, MotionParams], Pose]

# Every StickBench action, by its name in `schema.ACTIONS`.
MODELS: dict[str, Model] = {
    "idle": idle,
    "walk": walk,
    "run": run,
    "sprint": sprint,
    "jump": jump,
    "wave": wave,
    "point": point,
    "clap": clap,
    "punch": punch,
    "kick": kick,
    "dodge": dodge,
    "sit": sit,
    "stand": stand,
    "kneel": kneel,
    "crawling": crawling,
    "dance": dance,
    "celebrate": celebrate,
}
