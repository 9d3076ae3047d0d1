"""Atomic writes: all or nothing, with the mode an ordinary write would give."""

import os

import numpy as np
import pytest

from stickeval._io import atomic_path, check_output_dir, save_npz_atomic, write_text_atomic
from stickeval.errors import OutputPathError


def test_a_failed_write_leaves_neither_the_target_nor_a_temporary_file(tmp_path):
    target = tmp_path / "results.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_overwrite_keeps_the_old_content(tmp_path):
    target = tmp_path / "results.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_written_files_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        plain = tmp_path / "b.txt"
        plain.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o644


def test_npz_lands_at_exactly_the_given_name(tmp_path):
    save_npz_atomic(tmp_path / "rows-0000000.npz", motion=np.arange(3))
    save_npz_atomic(tmp_path / "no_suffix", motion=np.arange(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no_suffix", "rows-0000000.npz"]
    with np.load(tmp_path / "no_suffix") as z:
        assert z["motion"].tolist() == [0, 1, 2]


# Output directories: a command writes into a new or empty directory, or one of its own job; anything else needs --force.


def owner(name: str):
    """`other_job` for a job named `name`: the marker file holds the name of the job that wrote it."""
    return lambda marker: None if marker.read_text() == name else f"a job of {marker.read_text()}"


def check(path, force: bool = False) -> bool:
    return check_output_dir(path, marker="job.txt", what="job output", other_job=owner("mine"), force=force)


def test_a_new_or_empty_directory_is_used_and_holds_no_job(tmp_path):
    assert check(tmp_path / "new") is False
    assert check(tmp_path) is False


def test_a_directory_of_the_same_job_is_used(tmp_path):
    (tmp_path / "job.txt").write_text("mine")
    (tmp_path / "other-output").write_text("")
    assert check(tmp_path) is True


def test_a_directory_of_another_job_is_refused_naming_it_and_force(tmp_path):
    (tmp_path / "job.txt").write_text("theirs")
    with pytest.raises(OutputPathError, match=r"already holds a job of theirs; pass another -o/--out, or --force to replace it"):
        check(tmp_path)
    assert check(tmp_path, force=True) is True


def test_a_directory_of_other_files_is_refused_naming_some_of_them_and_force(tmp_path):
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).write_text("")
    with pytest.raises(OutputPathError, match=r"is not empty \(a, b, c, \.\.\.\) and holds no job output; .* or --force"):
        check(tmp_path)
    assert check(tmp_path, force=True) is False


def test_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputPathError, match="it is a file"):
        check(tmp_path / "file", force=True)
