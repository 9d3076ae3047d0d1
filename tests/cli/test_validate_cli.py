"""`stickeval validate-metrics` through the real entry point."""

import json

from stickeval.evaluation.validity import FAMILIES


def test_unknown_suite_is_one_line_naming_the_suites(run_cli, tmp_path):
    result = run_cli("validate-metrics", "--suite", "standrd", "-o", tmp_path / "v.json")
    assert "Unknown suite 'standrd'" in result.error_line() and "standard" in result.error_line()
    assert not (tmp_path / "v.json").exists()


def test_quick_table_is_written_and_printed_as_the_same_json(run_cli, tmp_path):
    out = tmp_path / "v.json"
    result = run_cli("validate-metrics", "--suite", "quick", "--n-boot", "20", "--json", "-o", out)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == json.loads(out.read_text())
    assert doc["suite"] == "quick" and doc["pairings"]["same_action"]["n"] >= 32
    assert list(doc["pairings"]["same_action"]["rows"]) == list(FAMILIES)
    assert "skipped" in doc["pairings"]["same_prompt"]  # quick has too few same-prompt pairs
    assert doc["pairings"]["same_action"]["flags"]["copy"] == ["test_set"]


def test_a_saved_file_that_is_not_a_validity_table_is_refused_in_one_line(run_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = run_cli("validate-metrics", "--from", bad)
    assert "is not a validity table" in result.error_line()
