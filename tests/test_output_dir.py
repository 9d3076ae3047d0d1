"""Output directories: a command writes into a new or empty directory, or one of its own job; anything else needs --force."""

import pytest

from stickeval.errors import OutputPathError
from stickeval.output_dir import check_output_dir


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
