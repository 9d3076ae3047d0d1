"""Atomic writes: all or nothing, with the mode an ordinary write would give."""

import os

import numpy as np
import pytest

from stickeval._io import atomic_path, save_npz_atomic, write_text_atomic


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
