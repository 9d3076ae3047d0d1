"""The Suite: reference clips with prompts and labels, identified by a content hash, and the split rule.

Every source (StickBench, the real-motion track, a user's `.pt` file) becomes a `Suite`; metrics
and evaluation read only this. Splits are decided by hashing a stable key (a sample id or a source
file), so they never change and need no stored list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

TEST_FRACTION = 0.5
SPLITS = ("train", "test")
# The fewest real frames a clip may have to be scored, the one minimum of stickeval: frame 0 is given
# to the generator, and temporal consistency takes third differences of the frames after it (4
# scored frames), the most any metric needs. Defined here because data may not import metrics;
# `stickeval.metrics` imports it.
MIN_FRAMES = 5


@dataclass(frozen=True)
class Suite:
    """Reference clips with their prompts: what a model is evaluated against.

    Attributes:
        name: "stickbench-quick", "stickbench-standard", "real", or a dataset file stem.
        version: "stickbench-v1", the `.npz` file stem for real motion, or "stick-gen-pt" (a `.pt` file).
        hash: sha256 hex of the content (ids, prompts, labels and every array), see `content_hash`.
        ids, prompts, labels: per sample; `labels` is the primary action, the classifier's target.
        motion: float32 [N, T, D] clips; frames past `lengths` repeat the last valid frame.
        actions: int64 [N, T] per-frame ids into `schema.ACTIONS`.
        lengths: int64 [N] valid frames.
        embeddings: float32 [N, E] prompt embeddings stored with the data, or None.
    """

    name: str
    version: str
    hash: str
    ids: list[str]
    prompts: list[str]
    motion: np.ndarray
    actions: np.ndarray
    lengths: np.ndarray
    labels: list[str]
    embeddings: np.ndarray | None = None

    @classmethod
    def build(cls, **kwargs: Any) -> Suite:
        """A suite from its fields minus `hash`, which is computed; arrays are made read-only."""
        for key in ("motion", "actions", "lengths", "embeddings"):
            if kwargs.get(key) is not None:
                kwargs[key] = np.ascontiguousarray(kwargs[key])
                kwargs[key].flags.writeable = False
        return cls(hash=content_hash(**kwargs), **kwargs)

    def __len__(self) -> int:
        return len(self.ids)


def content_hash(*, ids, prompts, labels, motion, actions, lengths, embeddings=None, **_: Any) -> str:
    """sha256 over ids, prompts, labels (NUL-separated) and the arrays as little-endian bytes."""
    h = hashlib.sha256()
    for texts in (ids, prompts, labels):
        h.update("\0".join(texts).encode() + b"\1")
    for array, dtype in ((motion, "<f4"), (actions, "<i8"), (lengths, "<i8"), (embeddings, "<f4")):
        if array is not None:
            h.update(str(array.shape).encode() + np.ascontiguousarray(array, dtype=dtype).tobytes())
    return h.hexdigest()


def split_of(key: str) -> str:
    """ "test" for about `TEST_FRACTION` of keys, else "train": blake2b of the key, fixed forever."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return "test" if value < TEST_FRACTION * 2**64 else "train"


def select(suite: Suite, keep: np.ndarray, *, name: str | None = None) -> Suite:
    """The samples of `suite` at the indices `keep` (in that order), with a new hash."""
    idx = [int(i) for i in keep]
    return Suite.build(
        name=name or suite.name,
        version=suite.version,
        ids=[suite.ids[i] for i in idx],
        prompts=[suite.prompts[i] for i in idx],
        motion=suite.motion[idx],
        actions=suite.actions[idx],
        lengths=suite.lengths[idx],
        labels=[suite.labels[i] for i in idx],
        embeddings=None if suite.embeddings is None else suite.embeddings[idx],
    )
