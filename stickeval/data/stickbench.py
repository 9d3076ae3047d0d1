"""StickBench, the built-in benchmark: procedural reference clips with prompts, split and versioned.

Sample `i` of stickbench-v1 has the id `sb1-{i:05d}`. Its prompt and clip are a function of
(suite seed, id) alone: one numpy PCG64 generator per sample, seeded from both, so a sample does
not depend on how many others are built or in what order, and the published seed 0 regenerates
bit-identically on any machine (see `motions` for the arithmetic that makes this hold). The
train/test split hashes the id. Clips are built from the per-action models of `motions` by
forward kinematics; the ground is y = 0 and the lowest hand or foot touches it unless airborne.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from stickeval.data.motion_npz import read_motion_npz, realmotion_path
from stickeval.data.motions import MODELS, PI, Body, MotionParams, Pose, stable_sin, stable_sincos
from stickeval.data.prompts import ACTION_WORDS, CONNECTORS, MODIFIERS, NEXT_ACTION, SUBJECTS, Subject, phrase, sentence
from stickeval.data.schema import ACTION_TO_ID, FPS, N_FRAMES
from stickeval.data.suite import SPLITS, Suite, select, split_of
from stickeval.errors import DatasetError, UnknownSuiteError

VERSION = "stickbench-v1"
SEED = 0  # the published seed of stickbench-v1
SIZES = {"quick": 256, "standard": 2400}  # sample ids per size; about half are test (≈128, ≈1,200)
SUITES = (*SIZES, "real")
ACTIONS: tuple[str, ...] = tuple(MODELS)
TRANSITION_FRAMES = 10  # 0.4 s cross-fade between the parts of a multi-action prompt
MULTI_ACTION_P = 0.25  # share of prompts with two actions ("walks, then waves")
MODIFIER_P = (0.35, 0.2)  # chance of each applicable modifier kind, first part / second part
MAX_MODIFIERS = 2
# Natural sway per angle (torso, legs, arms), as a share of 0.004-0.012 rad: small on the legs so a
# planted foot barely slides.
NOISE_SCALE = np.array([[1.0], [0.3], [0.3], [1.0], [1.0]])

assert all(a in ACTION_TO_ID for a in ACTIONS) and set(ACTIONS) == set(ACTION_WORDS)


@dataclass(frozen=True)
class Part:
    """One action of a prompt: its name in `schema.ACTIONS`, modifier texts, and length in frames."""

    action: str
    modifiers: tuple[str, ...] = ()
    n_frames: int = N_FRAMES


@dataclass(frozen=True)
class SampleSpec:
    """What one StickBench sample shows: prompt, subject and the actions in order."""

    sample_id: str
    prompt: str
    subject: Subject
    parts: tuple[Part, ...]

    @property
    def label(self) -> str:
        """The primary action: the first part's, which always spans at least half the clip."""
        return self.parts[0].action


def sample_id(index: int) -> str:
    """The stable id of StickBench sample `index`."""
    return f"sb1-{index:05d}"


def sample_rng(seed: int, sample_id: str) -> np.random.Generator:
    """The generator of one sample: PCG64 seeded from (suite seed, blake2b of the id)."""
    key = int.from_bytes(hashlib.blake2b(sample_id.encode(), digest_size=8).digest(), "little")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, key])))


def _pick(rng: np.random.Generator, options: tuple | list):
    """A uniform choice through `random()` only (its stream is stable across numpy versions)."""
    return options[min(int(rng.random() * len(options)), len(options) - 1)]


def _draw_modifiers(rng: np.random.Generator, action: str, p: float) -> tuple[str, ...]:
    """Up to MAX_MODIFIERS modifiers, each applicable kind taken with probability `p`."""
    chosen = []
    for kind in ACTION_WORDS[action].modifier_kinds:
        if rng.random() < p and len(chosen) < MAX_MODIFIERS:
            chosen.append(_pick(rng, [m.text for m in MODIFIERS.values() if m.kind == kind]))
    return tuple(chosen)


def draw_sample(index: int, seed: int = SEED) -> tuple[SampleSpec, np.random.Generator]:
    """Draw sample `index`'s prompt and parts; also return its generator, ready to render.

    The first action cycles through `ACTIONS` by index, so every prefix of the suite is balanced.
    """
    sid = sample_id(index)
    rng = sample_rng(seed, sid)
    first = ACTIONS[index % len(ACTIONS)]
    subject = _pick(rng, SUBJECTS)
    actions = [first]
    if rng.random() < MULTI_ACTION_P:
        actions.append(NEXT_ACTION.get(first) or _pick(rng, [a for a in ACTIONS if a not in (first, "stand")]))
    first_frames = N_FRAMES if len(actions) == 1 else int(N_FRAMES * (0.5 + 0.2 * rng.random()))
    parts, phrases = [], []
    for k, action in enumerate(actions):
        mods = _draw_modifiers(rng, action, MODIFIER_P[k])
        parts.append(Part(action, mods, first_frames if k == 0 else N_FRAMES - first_frames))
        phrases.append(phrase(_pick(rng, ACTION_WORDS[action].phrases), mods))
    prompt = sentence(subject.text, phrases, _pick(rng, CONNECTORS))
    return SampleSpec(sid, prompt, subject, tuple(parts)), rng


def _params(rng: np.random.Generator, modifiers: tuple[str, ...]) -> MotionParams:
    """Per-part variation, then the modifiers' effects. Always 5 draws, whatever the modifiers."""
    speed, amplitude, phase, direction, side = rng.random(5)
    p = {
        "speed": 0.85 + 0.3 * speed,
        "amplitude": 0.85 + 0.3 * amplitude,
        "phase": float(phase),
        "direction": 1 if direction < 0.5 else -1,
        "side": 1 if side < 0.5 else -1,
        "count": None,
    }
    for m in (MODIFIERS[text] for text in modifiers):
        p["speed"] *= m.speed
        p["amplitude"] *= m.amplitude
        p.update({f: getattr(m, f) for f in ("count", "direction", "side") if getattr(m, f) is not None})
    return MotionParams(**p)


def _image(pose: Pose, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """Image-plane angles [5, n] (torso, left leg, right leg, left arm, right arm) and root x [n]."""
    side = np.array([[-1.0], [1.0]])
    torso = direction * pose.torso_fwd + pose.torso_lat
    legs = direction * pose.leg_fwd + side * pose.leg_abd
    arms = direction * pose.arm_fwd + side * pose.arm_abd
    return np.vstack([torso[None], legs, arms]), direction * pose.root_fwd + pose.root_lat


def forward_kinematics(angles: np.ndarray, root_x: np.ndarray, lift: np.ndarray, body: Body) -> np.ndarray:
    """v1 motion [T, 20] from image angles [5, T]; the hip height puts the lowest extremity on y = 0.

    Args:
        angles: torso (from upright) and legs, arms (from hanging down), radians, positive toward +x.
        root_x: hip x per frame, units.
        lift: height added above ground contact (flight), units, ≥ 0.
        body: segment lengths.
    """
    s, c = stable_sincos(angles)
    neck = np.stack([body.torso * s[0], body.torso * c[0]])  # relative to the hip
    feet = np.stack([body.leg * s[1:3], -body.leg * c[1:3]])  # [xy, 2, T]
    hands = neck[:, None] + np.stack([body.arm * s[3:5], -body.arm * c[3:5]])
    hip_y = np.max(np.concatenate([-feet[1], -hands[1]]), axis=0) + lift
    hip = np.stack([root_x, hip_y])
    neck, feet, hands = neck + hip, feet + hip[:, None], hands + hip[:, None]
    segments = [(neck, hip), (hip, feet[:, 0]), (hip, feet[:, 1]), (neck, hands[:, 0]), (neck, hands[:, 1])]
    return np.concatenate([np.concatenate([a, b]) for a, b in segments]).T  # [T, 20], segment-major


def render(parts: tuple[Part, ...], subject: Subject, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Synthesise the clip of `parts` in order, cross-fading joint angles between them.

    Args:
        parts: the actions with their modifiers and frame counts (summing to the clip length).
        subject: sets the body scale (times a 0.9-1.1 draw).
        rng: the sample's generator; the number of draws depends only on len(parts).

    Returns:
        motion: float64 [T, 20] canonical v1 segments; actions: int64 [T] ids into `schema.ACTIONS`.
    """
    n = sum(p.n_frames for p in parts)
    body = Body.scaled(subject.scale * (0.9 + 0.2 * rng.random()))
    angles, lift, step = np.zeros((5, n)), np.zeros(n), np.zeros(n)
    actions = np.zeros(n, dtype=np.int64)
    start = 0
    for k, part in enumerate(parts):
        params = _params(rng, part.modifiers)
        stop = min(start + part.n_frames + TRANSITION_FRAMES, n)  # run on into the next part's fade-in
        pose = MODELS[part.action](np.arange(stop - start) / FPS, body, params)
        ang, x = _image(pose, params.direction)
        w = np.ones(stop - start) if k == 0 else np.clip(np.arange(stop - start) / TRANSITION_FRAMES, 0, 1)
        w = w * w * (3 - 2 * w)
        for out, new in ((angles, ang), (lift, pose.lift), (step, np.diff(x, prepend=x[0]))):
            out[..., start:stop] = (1 - w) * out[..., start:stop] + w * new
        actions[start : start + part.n_frames] = ACTION_TO_ID[part.action]
        start += part.n_frames
    t = np.arange(n) / FPS
    amp, freq, phase = rng.random((3, 3, 5, 1))  # natural sway: 3 slow sinusoids per angle
    for a, f, ph in zip(amp, freq, phase):  # summed in a fixed order, for bit-identical results
        angles += NOISE_SCALE * (0.004 + 0.008 * a) * stable_sin(2 * PI * ((0.15 + 1.05 * f) * t + ph))
    root_x = np.cumsum(step)
    root_x += 3.0 * (rng.random() - 0.5) - 0.5 * (root_x.max() + root_x.min())  # centred, then offset
    return forward_kinematics(angles, root_x, lift, body), actions


def make_sample(index: int, seed: int = SEED) -> tuple[SampleSpec, np.ndarray, np.ndarray]:
    """StickBench sample `index`: its spec, motion float64 [T, 20] and action ids int64 [T]."""
    spec, rng = draw_sample(index, seed)
    motion, actions = render(spec.parts, spec.subject, rng)
    return spec, motion, actions


@functools.lru_cache(maxsize=8)
def stickbench_suite(size: str, split: str = "test", seed: int = SEED, limit: int | None = None) -> Suite:
    """The `split` samples of StickBench `size`, in id order, the first `limit` of them if given.

    Raises:
        UnknownSuiteError: `size` is not in `SIZES`.
    """
    if size not in SIZES:
        raise UnknownSuiteError(size, SIZES)
    specs, motions, tracks = [], [], []
    for index in range(SIZES[size]):
        if limit is not None and len(specs) >= limit:
            break
        if split_of(sample_id(index)) == split:
            spec, motion, actions = make_sample(index, seed)
            specs.append(spec)
            motions.append(motion)
            tracks.append(actions)
    n = len(specs)
    return Suite.build(
        name=f"stickbench-{size}",
        version=VERSION,
        ids=[s.sample_id for s in specs],
        prompts=[s.prompt for s in specs],
        motion=np.asarray(motions, dtype=np.float32).reshape(n, N_FRAMES, 20),
        actions=np.asarray(tracks, dtype=np.int64).reshape(n, N_FRAMES),
        lengths=np.full(n, N_FRAMES, dtype=np.int64),
        labels=[s.label for s in specs],
    )


_read_real = functools.lru_cache(maxsize=1)(read_motion_npz)


@functools.lru_cache(maxsize=4)
def _real_suite(path: str, split: str, limit: int | None) -> Suite:
    full = _read_real(path)
    chosen = [i for i, sid in enumerate(full.ids) if split_of(sid.rsplit("#", 1)[0]) == split]  # by source file
    chosen.sort(key=lambda i: hashlib.blake2b(full.ids[i].encode(), digest_size=8).digest())
    return select(full, np.array(chosen[:limit], dtype=np.int64), name="real")


def load_suite(name: str, *, split: str = "test", limit: int | None = None, seed: int = SEED) -> Suite:
    """A benchmark suite by name: "quick" or "standard" (StickBench) or "real" (motion capture).

    StickBench samples come in id order. "real" is the dataset-2 clips of the real-motion file
    (`motion_npz.realmotion_path()`), split by source file (clips of one take stay together) and
    ordered by a hash of their id, so any `limit` is a stable mix of labels; `seed` does not apply.

    Args:
        name: "quick", "standard" or "real".
        split: "train" or "test".
        limit: keep the first `limit` samples of the split.
        seed: StickBench's generation seed; 0 is the published stickbench-v1.

    Returns:
        The suite; cached per arguments, with read-only arrays.

    Raises:
        UnknownSuiteError: `name` is not a suite.
        DatasetError: bad `split` or `limit`, or the real-motion file is absent or unreadable.
    """
    if split not in SPLITS:
        raise DatasetError(f"Unknown split {split!r}; use 'train' or 'test'.")
    if limit is not None and limit < 1:
        raise DatasetError(f"limit must be a positive number of samples, not {limit}.")
    if name in SIZES:
        return stickbench_suite(name, split, seed, limit)
    if name == "real":
        return _real_suite(str(realmotion_path()), split, limit)
    raise UnknownSuiteError(name, SUITES)
