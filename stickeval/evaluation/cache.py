"""Generations on disk, keyed by (model hash, suite hash, generation config), written as they finish.

A run directory holds `generations/<key>/`: one file per finished chunk of rows, named
`rows-<lo>-<hi>.<sha256>.npz`. The name is the chunk's digest record: a chunk is trusted only if
its bytes hash to the digest in its name, so an interrupted run resumes where it stopped, a corrupt
chunk is regenerated, and `stickeval score` re-reads everything without the model. Each chunk is
one atomic rename and no file is shared between chunks, so several processes (torchrun ranks, or
two runs of one configuration) can write chunks of the same directory at once without losing each
other's work.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval._io import atomic_path
from stickeval.errors import RunDirectoryError, first_line

log = logging.getLogger(__name__)

_NAME = re.compile(r"rows-(\d{7})-(\d{7})\.([0-9a-f]{64})\.npz")


@dataclass(frozen=True)
class ChunkProblem:
    """A chunk that cannot be read: rows [lo, hi) and why ("missing" or "corrupt")."""

    lo: int
    hi: int
    reason: str

    def __str__(self) -> str:
        return f"rows {self.lo}-{self.hi - 1} are {self.reason}"


class RolloutCache:
    """Arrays for rows [0, n_rows) of one generation job, stored in chunks of `chunk` rows."""

    def __init__(self, directory: Path, n_rows: int, chunk: int):
        self.directory, self.n_rows, self.chunk = Path(directory), n_rows, chunk

    def bounds(self) -> list[tuple[int, int]]:
        """(lo, hi) of every chunk, in row order."""
        return [(lo, min(self.n_rows, lo + self.chunk)) for lo in range(0, self.n_rows, self.chunk)]

    def shard(self, rank: int = 0, world_size: int = 1) -> list[tuple[int, int]]:
        """The chunks one process of `world_size` fills: every `world_size`-th, starting at `rank`.

        The chunks themselves never depend on the process count, so a run started on N processes
        resumes on any other number.
        """
        return self.bounds()[rank::world_size]

    def _read_chunk(self, lo: int, hi: int) -> dict[str, np.ndarray] | ChunkProblem:
        """The arrays of chunk [lo, hi) from a file whose bytes match its digest (each file read once)."""
        candidates = sorted(self.directory.glob(f"rows-{lo:07d}-{hi:07d}.*.npz")) if self.directory.is_dir() else []
        for path in candidates:
            match = _NAME.fullmatch(path.name)
            try:
                data = path.read_bytes() if match else b""
            except FileNotFoundError:  # replaced by another writer of this chunk since the glob
                continue
            if match and hashlib.sha256(data).hexdigest() == match[3]:
                with np.load(io.BytesIO(data)) as z:
                    return {k: z[k] for k in z.files}
        return ChunkProblem(lo, hi, "corrupt" if candidates else "missing")

    def _write_chunk(self, lo: int, hi: int, arrays: dict[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        data = buffer.getvalue()
        path = self.directory / f"rows-{lo:07d}-{hi:07d}.{hashlib.sha256(data).hexdigest()}.npz"
        try:
            with atomic_path(path) as tmp:
                tmp.write_bytes(data)
        except OSError as e:
            raise RunDirectoryError(
                f"Could not save generated rows {lo}-{hi - 1} to {self.directory} ({first_line(e)}); free disk space "
                "or fix permissions, then rerun with --resume (the chunks already saved are kept)."
            ) from e
        for stale in self.directory.glob(f"rows-{lo:07d}-{hi:07d}.*.npz"):
            if stale != path and _NAME.fullmatch(stale.name):
                stale.unlink(missing_ok=True)  # a corrupt copy this chunk replaces

    def fill(
        self,
        produce: Callable[[int, int], dict[str, np.ndarray]],
        *,
        rank: int = 0,
        world_size: int = 1,
        done: Callable[[int], None] | None = None,
    ) -> int:
        """Produce and save every chunk that is missing or corrupt; return the number of rows produced.

        Args:
            produce: `produce(lo, hi)` -> the arrays of rows [lo, hi), each with hi - lo rows.
            rank, world_size: fill only this process's `shard` of the chunks.
            done: called with a chunk's row count when it is found intact in the cache.

        Raises:
            RunDirectoryError: a chunk could not be saved (full disk, permissions).
        """
        produced = 0
        for lo, hi in self.shard(rank, world_size):
            found = self._read_chunk(lo, hi)
            if isinstance(found, dict):
                if done:
                    done(hi - lo)
                continue
            if found.reason == "corrupt":
                log.warning("cached generations %s: regenerating them", found)
            self._write_chunk(lo, hi, produce(lo, hi))
            produced += hi - lo
        return produced

    def read_all(self) -> tuple[dict[str, np.ndarray] | None, list[ChunkProblem]]:
        """(every row's arrays concatenated, []) if every chunk is intact, else (None, the problems)."""
        parts, problems = [], []
        for lo, hi in self.bounds():
            found = self._read_chunk(lo, hi)
            if isinstance(found, dict):
                parts.append(found)
            else:
                problems.append(found)
        if problems:
            return None, problems
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, []

    def cached_rows(self) -> int:
        """Rows held in intact chunks now (what a resumed run will not generate again)."""
        return sum(hi - lo for lo, hi in self.bounds() if isinstance(self._read_chunk(lo, hi), dict))
