"""Files on disk: atomic writes (a temporary name in the same directory, then rename), stable keys, output directories.

A crash, a full disk or Ctrl-C never leaves a half-written file under the final name. The file
gets the mode a plain `open(path, "w")` would give (0666 minus the umask), not mkstemp's 0600, so
shared caches stay readable by their other users.

Every command that writes a directory (`run -o`, `train -o`) checks it before any work with
`check_output_dir`: a new or empty directory, or one that holds this command's own kind of output
for the same job, is used; anything else is refused unless the user passes `--force`, so that one
run never silently replaces (or leaves stale files beside) another.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from stickeval.errors import OutputPathError


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, _default_mode())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def check_writable(path: str | os.PathLike, *, directory: bool = False, given_as: str = "-o/--out") -> None:
    """Check, before any work, that `path` can be written as a file (or, with `directory`, as a directory).

    Long commands call this first, so a bad `-o` fails in a second instead of after the work. It
    creates nothing: it probes the nearest existing ancestor with a temporary file and removes it
    (a real write, because `os.access` says yes to root even on a read-only mount). `given_as` is
    the option or argument the messages tell the user to change.

    Raises:
        OutputPathError: the path is a directory where a file is wanted (or the reverse), an
            ancestor is a file, or the directory that would hold it is not writable.
    """
    path = Path(path)
    if path.exists() and path.is_dir() != directory:
        wanted, found = ("a directory", "a file") if directory else ("a file name", "a directory")
        raise OutputPathError(f"Cannot write {path}: it is {found}. Pass {wanted} to {given_as}.", path=str(path))
    existing = path if path.is_dir() else path.parent
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"Cannot write {path}: {existing} is a file, not a directory. Pass another {given_as}.", path=str(path))
    try:
        fd, probe = tempfile.mkstemp(prefix=".stickeval-probe-", dir=existing)
    except OSError as e:
        raise OutputPathError(
            f"Cannot write {path}: {existing} is not writable ({e.strerror}). Pass another {given_as}.", path=str(path)
        ) from e
    os.close(fd)
    os.unlink(probe)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def save_npz_atomic(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    """`np.savez` to exactly `path` (no `.npz` appended), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object: np.savez would append .npz to a bare name
            np.savez(fh, **arrays)


def stable_key(parts: dict) -> str:
    """16 hex digits of sha256 over `parts` as sorted-key JSON: the same key on every machine and run."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes: the digest manifests record for shipped and cached weights."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_output_dir(
    path: str | os.PathLike, *, marker: str, what: str, other_job: Callable[[Path], str | None], force: bool = False
) -> bool:
    """Check, before any work, that a command may write its output into directory `path`.

    Args:
        path: the directory (`-o`); it need not exist.
        marker: the file a directory of this command's kind always holds (e.g. "run.json").
        what: what the command writes, for messages (e.g. "a stickeval run").
        other_job: given the marker file, None when it belongs to this job (the directory may be
            resumed or rewritten), else what it holds instead (e.g. "a run of nano on stickbench-quick").
        force: use the directory whatever it holds (the caller then replaces its own kind of files).

    Returns:
        True when the directory holds this command's kind of output (`marker`), for this job or
        (with `force`) another; False when it is new or empty, or holds other files and `force` is given.

    Raises:
        OutputPathError: `path` is a file; or, without `force`, a non-empty directory without `marker`,
            or one whose marker belongs to another job.
    """
    path = Path(path)
    if not path.exists():
        return False
    if not path.is_dir():
        raise OutputPathError(f"Cannot write {path}: it is a file. Pass a directory to -o/--out.", path=str(path))
    if (path / marker).is_file():
        holds = other_job(path / marker)
        if holds is not None and not force:
            raise OutputPathError(f"{path} already holds {holds}; pass another -o/--out, or --force to replace it.", path=str(path))
        return True
    entries = sorted(p.name for p in path.iterdir())
    if entries and not force:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputPathError(
            f"{path} is not empty ({shown}) and holds no {what}; pass a new or empty directory to -o/--out, or --force to write into it.",
            path=str(path),
        )
    return False
