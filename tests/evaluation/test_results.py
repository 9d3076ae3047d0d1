"""The one results.json reader: every way a file can be unusable is one line naming the fix."""

import json

import pytest

from stickeval.errors import ResultsFileError
from stickeval.evaluation.results import SCHEMA_VERSION, read_results_file

FIX = "`stickeval score runs/x`"
VALID = {"schema_version": SCHEMA_VERSION, **{key: {} for key in ("tool", "model", "suite", "config", "metrics")}}


def test_a_complete_results_file_of_this_schema_is_returned_as_written(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps(VALID))
    assert read_results_file(tmp_path / "results.json", fix=FIX) == VALID


@pytest.mark.parametrize(
    "text, message",
    [
        (None, "does not exist; pass the results.json"),
        ("{not json", r"is not readable JSON .*re-create it with `stickeval score runs/x`"),
        (
            json.dumps({**VALID, "schema_version": 0}),
            "has schema_version 0, this stickeval reads 1; re-score it with `stickeval score runs/x`",
        ),
        (json.dumps([1, 2]), "has schema_version None"),
        (json.dumps({k: v for k, v in VALID.items() if k != "suite"}), "lacks suite; re-create it with `stickeval score runs/x`"),
    ],
)
def test_an_unusable_results_file_is_refused_naming_the_fix(tmp_path, text, message):
    path = tmp_path / "results.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ResultsFileError, match=message):
        read_results_file(path, fix=FIX)
