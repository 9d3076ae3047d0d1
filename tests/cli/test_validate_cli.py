"""`stickeval validate-metrics` through the real entry point."""

import json


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
    assert doc["suite"] == "quick" and doc["n"] >= 32
    assert set(doc["rows"]) == {
        "real",
        "copy",
        "first_frame",
        "mean_pose",
        "white_noise",
        "shuffled",
        "reversed",
        "jitter",
        "smoothed",
        "wrong_action",
    }
    assert "copy" in doc["flags"]
