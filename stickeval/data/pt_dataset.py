"""Stick-Gen `.pt` datasets: read (validated sample by sample), write, describe, and turn into a Suite.

A `.pt` dataset is the original Stick-Gen training format: `torch.save` of a list of dicts
with `description` (str), `motion` float32 [T, 20|48], `actions` int64 [T], and optionally
`physics` float32 [T, 6], `camera` float32 [T, 3], `embedding` float32 [E], `quality_score`,
`source`, `meta`. Files are read with `weights_only=True` and every sample is validated; a bad
one is reported by index with its problem. Missing physics targets are derived from the motion.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from stickeval._io import atomic_path
from stickeval.data.schema import ACTIONS, FPS, SCHEMAS
from stickeval.data.suite import MIN_FRAMES, Suite
from stickeval.errors import DatasetError, first_line

log = logging.getLogger(__name__)

REQUIRED_KEYS = ("description", "motion", "actions")
MAX_LISTED = 3  # problems quoted in an error message; all are in `.problems`


def physics_from_motion(motion: np.ndarray, fps: int = FPS) -> np.ndarray:
    """Physics targets [T, 6] = (vx, vy, ax, ay, mx, my) of the neck point, the original convention.

    The neck is dims 0-1 in both v1 and v3. Velocity is the forward difference times fps
    (units/s), acceleration the forward difference of velocity (units/s²); the last frame repeats
    the one before it. Momentum equals velocity (unit mass), as in the original synthetic data.
    """
    p = np.asarray(motion, dtype=np.float64)[:, :2]
    v = np.diff(p, axis=0, append=p[-1:]) * fps
    v[-1] = v[-2]
    a = np.diff(v, axis=0, append=v[-1:]) * fps
    a[-1] = a[-2]
    return np.concatenate([v, a, v], axis=1).astype(np.float32)


def _problems(sample: Any, dims: dict[str, int], min_frames: int) -> list[str]:
    """Everything wrong with one sample, in field order; `dims` holds the file's motion/embedding dims, set by the first."""
    if not isinstance(sample, dict):
        return [f"is a {type(sample).__name__}, not a dict"]
    missing = [k for k in REQUIRED_KEYS if k not in sample]
    if missing:
        return [f"lacks {', '.join(repr(k) for k in missing)}"]
    problems = _description_problems(sample["description"])
    motion = sample["motion"]
    if not _is_motion(motion):
        return [*problems, f"'motion' is not a [T, 20|48] tensor (got {_describe(motion)})"]
    n_frames = motion.shape[0]
    return [
        *problems,
        *_motion_problems(motion, dims, min_frames),
        *_action_problems(sample["actions"], n_frames),
        *_per_frame_problems(sample, n_frames),
        *_embedding_problems(sample.get("embedding"), dims),
        *_extra_field_problems(sample),
    ]


def _description_problems(description: Any) -> list[str]:
    if not isinstance(description, str) or not description.strip():
        return ["'description' is not a non-empty string"]
    return []


def _is_motion(motion: Any) -> bool:
    """Whether `motion` is a [T, D] tensor of a known schema's width (its values are checked apart)."""
    import torch

    return isinstance(motion, torch.Tensor) and motion.ndim == 2 and motion.shape[1] in SCHEMAS


def _motion_problems(motion: Any, dims: dict[str, int], min_frames: int) -> list[str]:
    """Too few frames, non-finite or non-float values, another width than the file's first sample."""
    import torch

    problems = []
    n_frames = motion.shape[0]
    if n_frames < min_frames:
        problems.append(f"'motion' has {n_frames} frame(s); at least {min_frames} are needed")
    if not motion.is_floating_point() or not torch.isfinite(motion).all():
        problems.append("'motion' has NaN/inf or is not floating point")
    if motion.shape[1] != dims.setdefault("motion", motion.shape[1]):
        problems.append(f"'motion' has {motion.shape[1]} numbers per frame, the file's first sample {dims['motion']}")
    return problems


def _action_problems(actions: Any, n_frames: int) -> list[str]:
    """Not an integer tensor of one id per frame, or ids outside the action vocabulary."""
    import torch

    if not isinstance(actions, torch.Tensor) or actions.shape != (n_frames,) or actions.is_floating_point():
        return [f"'actions' is not an integer tensor [{n_frames}] (got {_describe(actions)})"]
    if n_frames and (actions.min() < 0 or actions.max() >= len(ACTIONS)):
        return [f"'actions' has ids outside 0..{len(ACTIONS) - 1} (min {int(actions.min())}, max {int(actions.max())})"]
    return []


def _per_frame_problems(sample: dict, n_frames: int) -> list[str]:
    """The optional per-frame fields `physics` [T, 6] and `camera` [T, 3]: finite tensors of that shape when present."""
    import torch

    problems = []
    for key, width in (("physics", 6), ("camera", 3)):
        value = sample.get(key)
        if value is not None and (
            not isinstance(value, torch.Tensor) or value.shape != (n_frames, width) or not torch.isfinite(value).all()
        ):
            problems.append(f"'{key}' is not a finite tensor [{n_frames}, {width}] (got {_describe(value)})")
    return problems


def _embedding_problems(embedding: Any, dims: dict[str, int]) -> list[str]:
    """The optional prompt embedding: a finite 1-D tensor of the file's first embedding's width."""
    import torch

    if embedding is None:
        return []
    if not isinstance(embedding, torch.Tensor) or embedding.ndim != 1 or not torch.isfinite(embedding).all():
        return [f"'embedding' is not a finite 1-D tensor (got {_describe(embedding)})"]
    if embedding.shape[0] != dims.setdefault("embedding", embedding.shape[0]):
        return [f"'embedding' has {embedding.shape[0]} dims, the file's first embedding {dims['embedding']}"]
    return []


def _extra_field_problems(sample: dict) -> list[str]:
    """The optional `quality_score` (a number in [0, 1]) and `source` (a string)."""
    import torch

    problems = []
    quality = sample.get("quality_score")
    if quality is not None and not (isinstance(quality, (int, float, torch.Tensor)) and 0.0 <= float(quality) <= 1.0):
        problems.append(f"'quality_score' is not a number in [0, 1] (got {quality!r})")
    if "source" in sample and not isinstance(sample["source"], str):
        problems.append("'source' is not a string")
    return problems


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} {list(shape)}" if shape is not None else type(value).__name__


def check_samples(samples: list[Any], *, min_frames: int = 2) -> tuple[list[dict], list[str]]:
    """Validate samples; return (the good ones, one "sample i: problem" line per problem).

    Args:
        samples: what a `.pt` file holds (anything; each should be a sample dict).
        min_frames: the fewest frames a clip may have: 2 (frame 0 and one to predict) to train on,
            `suite.MIN_FRAMES` (5) to evaluate on.
    """
    dims: dict[str, int] = {}
    good, problems = [], []
    for i, sample in enumerate(samples):
        found = _problems(sample, dims, min_frames)
        problems += [f"sample {i}: {p}" for p in found]
        if not found:
            good.append(sample)
    return good, problems


def _summary(path: str, problems: list[str], n_bad: int, n: int) -> str:
    """ "<path>: <n_bad> of <n> samples are bad: <the first few problems>." (the caller adds what to do)."""
    shown = "; ".join(problems[:MAX_LISTED]) + (f"; ... ({len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else "")
    return f"{path}: {n_bad} of {n} samples are bad: {shown}."


def read_dataset(path: str | os.PathLike, *, min_frames: int = 2) -> tuple[list[dict], list[str], int]:
    """Read a `.pt` file: (good samples with `physics`/`camera` filled in, problems, total count).

    `min_frames` is as in `check_samples`.

    Raises:
        DatasetError: the file is missing, not a safe torch file, or not a list.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"Dataset file {path} not found. Check the path.", path=str(path))
    try:
        samples = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for corrupt or unsafe pickles
        raise DatasetError(
            f"{path} cannot be read as a torch file with weights_only=True ({type(e).__name__}: {first_line(e)}). "
            "Re-save it with torch.save of a list of dicts of tensors and strings.",
            path=str(path),
        ) from e
    if not isinstance(samples, list):
        raise DatasetError(f"{path} holds a {type(samples).__name__}, not a list of sample dicts.", path=str(path))
    good, problems = check_samples(samples, min_frames=min_frames)
    for sample in good:
        if sample.get("physics") is None:
            sample["physics"] = torch.from_numpy(physics_from_motion(sample["motion"].numpy()))
        if sample.get("camera") is None:
            sample["camera"] = torch.zeros(sample["motion"].shape[0], 3)
    return good, problems, len(samples)


def load_dataset(path: str | os.PathLike, *, on_bad: str = "fail", min_frames: int = 2) -> list[dict]:
    """Load a Stick-Gen `.pt` dataset, validating every sample.

    Missing `physics` is derived from the motion (`physics_from_motion`); missing `camera` is zeros.

    Args:
        path: the `.pt` file.
        on_bad: "fail" raises when any sample is bad; "skip" drops bad samples with a warning.
        min_frames: a clip with fewer frames is bad (default 2; see `check_samples`).

    Returns:
        The good samples, as stored (tensors and strings).

    Raises:
        DatasetError: unreadable file, or bad samples with on_bad="fail" (`problems` lists each).
    """
    if on_bad not in ("fail", "skip"):
        raise DatasetError(f"on_bad must be 'fail' or 'skip', not {on_bad!r}.")
    good, problems, n = read_dataset(path, min_frames=min_frames)
    if problems and on_bad == "fail":
        raise DatasetError(
            f"{_summary(str(path), problems, n - len(good), n)} Fix them, or pass --on-bad skip to drop them.",
            problems=problems,
            path=str(path),
        )
    for problem in problems:
        log.warning("%s: skipping %s", path, problem)
    return good


def save_dataset(samples: list[dict], path: str | os.PathLike) -> None:
    """Write samples as a Stick-Gen `.pt` file (atomically); numpy arrays become tensors.

    Raises:
        DatasetError: a sample is bad (nothing is written); `problems` lists each.
    """
    import torch

    tensors = [
        {k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v for k, v in s.items()}
        if isinstance(s, dict)
        else s
        for s in samples
    ]
    good, problems = check_samples(tensors)
    if problems:
        summary = _summary(str(path), problems, len(tensors) - len(good), len(tensors))
        raise DatasetError(f"{summary} Fix them; nothing was written.", problems=problems, path=str(path))
    with atomic_path(path) as tmp:
        torch.save(tensors, tmp)


def suite_to_samples(suite: Suite, embeddings: np.ndarray | None = None) -> list[dict]:
    """A suite as Stick-Gen sample dicts (valid frames only), ready for `save_dataset`.

    Args:
        suite: the clips and prompts.
        embeddings: float32 [N, E] prompt embeddings, else the suite's own (if any).

    Returns:
        Dicts with description, motion, actions, physics (derived), camera (zeros), embedding
        (when given), source (the suite version) and meta {"id": sample id}.
    """
    embeddings = suite.embeddings if embeddings is None else embeddings
    samples = []
    for i, n in enumerate(suite.lengths):
        motion = np.array(suite.motion[i, :n], dtype=np.float32)
        sample = {
            "description": suite.prompts[i],
            "motion": motion,
            "actions": np.array(suite.actions[i, :n], dtype=np.int64),
            "physics": physics_from_motion(motion),
            "camera": np.zeros((n, 3), dtype=np.float32),
            "source": suite.version,
            "meta": {"id": suite.ids[i]},
        }
        if embeddings is not None:
            sample["embedding"] = np.array(embeddings[i], dtype=np.float32)
        samples.append(sample)
    return samples


def _primary_action(actions: np.ndarray) -> str:
    """The name of the most frequent action id in a track (the lowest id on a tie)."""
    return ACTIONS[int(np.bincount(actions).argmax())]


def describe_dataset(path: str | os.PathLike) -> dict[str, Any]:
    """What a `.pt` dataset holds: counts per primary action and source, lengths, quality, bad samples.

    Raises:
        DatasetError: the file is missing, not a safe torch file, or not a list.
    """
    good, problems, n = read_dataset(path)
    lengths = [int(s["motion"].shape[0]) for s in good]
    quality = [float(s["quality_score"]) for s in good if s.get("quality_score") is not None]
    actions = [_primary_action(s["actions"].numpy()) for s in good]
    embedding_dims = sorted({int(s["embedding"].shape[0]) for s in good if s.get("embedding") is not None})

    def counts(values: list[str]) -> dict[str, int]:
        return dict(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0])))

    return {
        "path": str(path),
        "n_samples": n,
        "n_good": len(good),
        "problems": problems,
        "motion_dim": int(good[0]["motion"].shape[1]) if good else None,
        "embedding_dims": embedding_dims,
        "n_with_embedding": sum(s.get("embedding") is not None for s in good),
        "actions": counts(actions),
        "sources": counts([s.get("source", "(none)") for s in good]),
        "length": {"min": min(lengths), "median": float(np.median(lengths)), "max": max(lengths)} if lengths else None,
        "quality": {
            "n": len(quality),
            "min": min(quality),
            "mean": float(np.mean(quality)),
            "max": max(quality),
            "n_at_least_0.5": sum(q >= 0.5 for q in quality),
        }
        if quality
        else None,
    }


def _stack(arrays: list[np.ndarray], n_frames: int) -> np.ndarray:
    """Stack [T_i, ...] arrays to [N, n_frames, ...], padding by holding each one's last frame."""
    return np.stack([np.concatenate([a, np.repeat(a[-1:], n_frames - len(a), axis=0)]) for a in arrays])


def suite_from_dataset(path: str | os.PathLike, *, on_bad: str = "fail") -> Suite:
    """A `.pt` dataset as a Suite: every good sample, ids "<stem>/<index>", embeddings from the file.

    Labels are each clip's most frequent action. Embeddings are None unless every sample has one.
    A clip shorter than `suite.MIN_FRAMES` (5) frames is a bad sample here: the metrics could not
    score it, so it is reported before any generation runs.

    Args:
        path: the `.pt` file.
        on_bad: "fail" or "skip", as `load_dataset`.

    Raises:
        DatasetError: as `load_dataset`, or the file has no good samples.
    """
    path = Path(path)
    samples = load_dataset(path, on_bad=on_bad, min_frames=MIN_FRAMES)
    if not samples:
        raise DatasetError(f"{path} has no usable samples.", path=str(path))
    motion = [s["motion"].numpy().astype(np.float32) for s in samples]
    actions = [s["actions"].numpy().astype(np.int64) for s in samples]
    n_frames = max(len(m) for m in motion)
    embeddings = None
    if all(s.get("embedding") is not None for s in samples):
        embeddings = np.stack([s["embedding"].numpy().astype(np.float32) for s in samples])
    return Suite.build(
        name=path.stem,
        version="stick-gen-pt",
        ids=[f"{path.stem}/{i}" for i in range(len(samples))],
        prompts=[s["description"] for s in samples],
        motion=_stack(motion, n_frames),
        actions=_stack(actions, n_frames),
        lengths=np.array([len(m) for m in motion], dtype=np.int64),
        labels=[_primary_action(a) for a in actions],
        embeddings=embeddings,
    )
