"""Generations on disk, keyed by (model hash, suite hash, generation config), written as they finish.

A run directory holds `generations/<key>/`: one `.npz` chunk per finished block of rows and a
`manifest.json` with each chunk's sha256. A chunk is trusted only if its bytes match the manifest,
so an interrupted run resumes where it stopped, a corrupt chunk is regenerated, and `stickeval
score` re-reads everything without the model.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stickeval._io import save_npz_atomic, write_text_atomic

log = logging.getLogger(__name__)


class RolloutCache:
    """Arrays for rows [0, n) of one generation job, stored in chunks of `chunk` rows."""

    def __init__(self, directory: Path, n_rows: int, chunk: int):
        self.directory, self.n_rows, self.chunk = Path(directory), n_rows, chunk
        self._manifest_path = self.directory / "manifest.json"
        self.manifest: dict[str, str] = {}
        if self._manifest_path.is_file():
            try:
                self.manifest = json.loads(self._manifest_path.read_text())["chunks"]
            except (ValueError, KeyError):
                log.warning("unreadable manifest in %s: regenerating its chunks", self.directory)

    def _chunk_path(self, lo: int) -> Path:
        return self.directory / f"rows-{lo:07d}.npz"

    def _read_chunk(self, lo: int) -> dict[str, np.ndarray] | None:
        """The chunk starting at row `lo` if its file exists and matches its recorded sha256 (read once)."""
        path, digest = self._chunk_path(lo), self.manifest.get(str(lo))
        if digest is None:
            return None
        data = path.read_bytes() if path.is_file() else b""
        if hashlib.sha256(data).hexdigest() != digest:
            log.warning("cached generations %s are corrupt or missing: regenerating them", path.name)
            return None
        with np.load(io.BytesIO(data)) as z:
            return {k: z[k] for k in z.files}

    def _write_chunk(self, lo: int, arrays: dict[str, np.ndarray]) -> None:
        path = self._chunk_path(lo)
        save_npz_atomic(path, **arrays)
        self.manifest[str(lo)] = hashlib.sha256(path.read_bytes()).hexdigest()
        write_text_atomic(self._manifest_path, json.dumps({"chunks": self.manifest}, indent=1))

    def fill(self, produce: Callable[[int, int], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], int]:
        """Every row's arrays: intact cached chunks are read, the others produced by `produce(lo, hi)` and saved.

        Returns (arrays concatenated over rows, number of rows produced now).
        """
        parts, produced = [], 0
        for lo in range(0, self.n_rows, self.chunk):
            arrays = self._read_chunk(lo)
            if arrays is None:
                hi = min(self.n_rows, lo + self.chunk)
                arrays = produce(lo, hi)
                self._write_chunk(lo, arrays)
                produced += hi - lo
            parts.append(arrays)
        return _concatenate(parts), produced

    def read_all(self) -> dict[str, np.ndarray] | None:
        """Every row's arrays if every chunk is present and intact, else None."""
        parts = []
        for lo in range(0, self.n_rows, self.chunk):
            arrays = self._read_chunk(lo)
            if arrays is None:
                return None
            parts.append(arrays)
        return _concatenate(parts)


def _concatenate(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
