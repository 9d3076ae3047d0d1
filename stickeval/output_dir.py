"""Output directories: may this command write here, or does the directory hold something else?

Every command that writes a directory (`run -o`, `train -o`) checks it before any work with
`check_output_dir`: a new or empty directory, or one that holds this command's own kind of output
for the same job, is used; anything else is refused unless the user passes `--force`, so that one
run never silently replaces (or leaves stale files beside) another.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from stickeval.errors import OutputPathError


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
