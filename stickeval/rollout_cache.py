"""Generations on disk, keyed by (model hash, suite hash, generation config), written as they finish.

A run directory holds `generations/<key>/`: one `.npz` chunk per finished block of rows and a
`manifest.json` with each chunk's sha256. A chunk is trusted only if its bytes match the manifest,
so an interrupted run resumes where it stopped, a corrupt chunk is regenerated, and `stickeval
score` re-reads everything without the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from stickeval._io import save_npz_atomic, write_text_atomic

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class RolloutCache:
    """Arrays for rows [0, n) of one generation job, stored in chunks of `chunk` rows."""

    def __init__(self, directory: Path, n_rows: int, chunk: int):
        self.directory, self.n_rows, self.chunk = Path(directory), n_rows, chunk
        self.directory.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.directory / "manifest.json"
        self.manifest: dict[str, str] = {}
        if self._manifest_path.is_file():
            try:
                self.manifest = json.loads(self._manifest_path.read_text())["chunks"]
            except (ValueError, KeyError):
                log.warning("unreadable manifest in %s: regenerating its chunks", self.directory)

    def _chunk_path(self, lo: int) -> Path:
        return self.directory / f"rows-{lo:07d}.npz"

    def valid_chunks(self) -> set[int]:
        """Starts of the chunks whose file exists and matches its recorded sha256."""
        good = set()
        for lo in range(0, self.n_rows, self.chunk):
            path, digest = self._chunk_path(lo), self.manifest.get(str(lo))
            if digest and path.is_file() and _sha256(path) == digest:
                good.add(lo)
            elif digest:
                log.warning("cached generations %s are corrupt or missing: regenerating them", path.name)
        return good

    def fill(self, produce: Callable[[int, int], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], int]:
        """Every row's arrays: cached chunks are read, the others produced by `produce(lo, hi)` and saved.

        Returns (arrays concatenated over rows, number of rows produced now).
        """
        good = self.valid_chunks()
        parts, produced = [], 0
        for lo in range(0, self.n_rows, self.chunk):
            hi = min(self.n_rows, lo + self.chunk)
            if lo in good:
                with np.load(self._chunk_path(lo)) as z:
                    parts.append({k: z[k] for k in z.files})
                continue
            arrays = produce(lo, hi)
            save_npz_atomic(self._chunk_path(lo), **arrays)
            self.manifest[str(lo)] = _sha256(self._chunk_path(lo))
            write_text_atomic(self._manifest_path, json.dumps({"chunks": self.manifest}, indent=1))
            parts.append(arrays)
            produced += hi - lo
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}, produced

    def read_all(self) -> dict[str, np.ndarray] | None:
        """Every row's arrays if every chunk is present and intact, else None."""
        if len(self.valid_chunks()) * self.chunk < self.n_rows:
            return None
        arrays, _ = self.fill(lambda lo, hi: {})
        return arrays
