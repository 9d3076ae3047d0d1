"""`stickeval render`, `report` and `compare` as a user runs them: exit codes, one-line errors, --json documents."""

import json

from PIL import Image


def test_render_writes_a_gif_and_its_json_names_the_clips(run_cli, run_dir, tmp_path):
    out = tmp_path / "worst.gif"
    result = run_cli("render", run_dir, "--worst", "2", "--step", "5", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["path"] == str(out) and doc["frames"] == 50 and doc["fps"] == 5 and len(doc["clips"]) == 2
    assert doc["bytes"] == out.stat().st_size and set(doc["clips"][0]["scores"]) >= {"pose_mse"}
    with Image.open(out) as gif:
        assert gif.n_frames == 50


def test_render_from_a_prompt_with_a_checkpoint(run_cli, checkpoint, tmp_path):
    result = run_cli("render", checkpoint, "a person jumps", "-o", tmp_path / "jump.gif", "--step", "10", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["clips"][0]["label"] == "jump"


def test_render_refusals_are_one_line_with_what_to_do(run_cli, run_dir, tmp_path):
    assert "No clip has prompt id 'x-1'" in run_cli("render", run_dir, "--prompt-id", "x-1", "-o", tmp_path / "no" / "a.gif").error_line()
    assert "holds no results.json" in run_cli("render", tmp_path, "-o", tmp_path / "a.gif").error_line()
    assert "Unknown noise kind 'tpyo'" in run_cli("render", run_dir, "--noise", "tpyo:1", "-o", tmp_path / "a.gif").error_line()
    (tmp_path / "a_file").write_text("")
    assert "a_file is a file, not a directory" in run_cli("render", run_dir, "-o", tmp_path / "a_file" / "a.gif").error_line()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]  # nothing written, no directory created


def test_render_and_report_create_the_missing_directories_of_their_output_as_data_make_does(run_cli, run_dir, tmp_path):
    assert run_cli("render", run_dir, "--step", "25", "-o", tmp_path / "clips" / "a.gif").exit_code == 0
    assert run_cli("report", run_dir, "-o", tmp_path / "pages" / "new" / "r.md").exit_code == 0
    assert (tmp_path / "clips" / "a.gif").is_file() and (tmp_path / "pages" / "new" / "r.md").is_file()


def test_report_writes_html_and_markdown_and_reports_what_it_wrote(run_cli, run_dir, tmp_path):
    result = run_cli("report", run_dir, "--format", "md", "-o", tmp_path / "r.md", "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "md" and "metrics" in doc["sections"] and (tmp_path / "r.md").read_text().startswith("# ")
    result = run_cli("report", run_dir, "-o", tmp_path / "r.html")
    assert result.exit_code == 0 and "Report:" in result.stderr and (tmp_path / "r.html").stat().st_size > 10_000


def test_report_of_a_missing_run_is_one_line(run_cli, tmp_path):
    assert "does not exist; run `stickeval run" in run_cli("report", tmp_path / "none").error_line()


def test_compare_prints_a_table_markdown_and_json(run_cli, run_dir, other_run_dir, tmp_path):
    table = run_cli("compare", run_dir, other_run_dir, "--by", "pose_mse")
    assert table.exit_code == 0 and "ranked by pose_mse" in table.stdout
    md = run_cli("compare", run_dir, other_run_dir, "--format", "md")
    assert md.exit_code == 0 and md.stdout.startswith("# Leaderboard")
    doc = json.loads(run_cli("compare", run_dir, other_run_dir, "--json").stdout)
    assert [e["rank"] for e in doc["entries"]] == [1, 2] and doc["by"] == "action_accuracy"
    written = run_cli("compare", run_dir, other_run_dir, "-o", tmp_path / "board.html")
    assert written.exit_code == 0 and (tmp_path / "board.html").read_text().startswith("<!DOCTYPE html>")


def test_compare_refuses_a_missing_run(run_cli, run_dir, tmp_path):
    assert "holds no results.json" in run_cli("compare", run_dir, tmp_path).error_line()
