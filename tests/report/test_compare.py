"""The leaderboard: ranks by direction, CI separation marks, refused mixes of suites, Markdown/HTML."""

import json
from pathlib import Path

import pytest

from stickeval.errors import ResultsFileError, SuiteMismatchError, UnknownMetricError
from stickeval.report.compare import MARK, compare
from stickeval.report.document import to_html, to_markdown


def metric(run_dir, name):
    return json.loads((run_dir / "results.json").read_text())["metrics"][name]


def test_runs_are_ranked_by_the_metric_s_direction(run_dir, other_run_dir):
    for by in ("pose_mse", "temporal_consistency"):
        board = compare([run_dir, other_run_dir], by=by)
        means = [metric(Path(e.run_dir), by)["mean"] for e in board.entries]
        higher = metric(run_dir, by)["higher_is_better"]
        assert means == sorted(means, reverse=higher) and [e.rank for e in board.entries] == [1, 2]


def test_a_cell_is_marked_exactly_when_its_ci_misses_the_best_run_s(run_dir, other_run_dir):
    board = compare([run_dir, other_run_dir], by="pose_mse", metrics=["pose_mse", "temporal_consistency", "foot_skating"])
    for name in board.metrics:
        a, b = metric(run_dir, name), metric(other_run_dir, name)
        apart = a["ci95"][1] < b["ci95"][0] or b["ci95"][1] < a["ci95"][0]
        marks = [e.metrics[name]["separated"] for e in board.entries]
        assert sum(marks) == (1 if apart else 0), name
    table = board.table()
    assert sum(cell.endswith(MARK) for row in table.rows for cell in row[3:]) == sum(
        e.metrics[m]["separated"] for e in board.entries for m in board.metrics
    )


def test_runs_of_different_suites_are_refused_unless_forced(run_dir, other_suite_run):
    with pytest.raises(SuiteMismatchError, match="different suites.*--force"):
        compare([run_dir, other_suite_run])
    board = compare([run_dir, other_suite_run], force=True)
    assert len(board.entries) == 2 and "Forced" in board.notices[0]


def test_unknown_or_undirected_ranking_metric_and_missing_results_are_errors(run_dir, tmp_path):
    with pytest.raises(UnknownMetricError, match="pose_mes.*Did you mean pose_mse"):
        compare([run_dir], by="pose_mes")
    with pytest.raises(UnknownMetricError):
        compare([run_dir], by="diversity")  # closest to the reference is best: no ranking direction
    with pytest.raises(ResultsFileError):
        compare([run_dir, tmp_path])


def test_markdown_and_html_boards_carry_every_run_and_the_legend(run_dir, other_run_dir):
    board = compare([run_dir, other_run_dir])
    md, page = to_markdown(board.document()), to_html(board.document())
    for text in (md, page):
        assert str(run_dir) in text and str(other_run_dir) in text and "does not overlap" in text
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| ---")]
    assert len(rows) == 3  # header + 2 runs
    assert json.loads(json.dumps(board.to_dict()))["entries"][0]["rank"] == 1
