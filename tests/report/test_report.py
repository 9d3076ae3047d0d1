"""The run report: every section, the run's own numbers, self-contained HTML, Markdown, bad input."""

import base64
import io
import json
import re
import shutil

import pytest
from PIL import Image

from stickeval.errors import OutputPathError, ResultsFileError, RunDirectoryError
from stickeval.report.report import build_report, estimate, fmt, write_report

SECTIONS = ["run", "metrics", "noise", "per-action", "confusion", "physical", "clips"]


@pytest.fixture(scope="module")
def html_report(run_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    written = write_report(run_dir, out)
    return written, out.read_text()


def test_html_report_has_every_section_and_the_run_s_numbers(run_dir, html_report):
    written, page = html_report
    results = json.loads((run_dir / "results.json").read_text())
    assert written.sections == SECTIONS and written.format == "html"
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    pose = results["metrics"]["pose_mse"]
    assert f"{pose['mean']:.4g}" in page and f"{pose['ci95'][0]:.4g}" in page
    assert results["suite"]["hash"] in page and results["model"]["hash"] in page


def test_html_report_shows_every_context_row_beside_the_model(run_dir, html_report):
    _, page = html_report
    results = json.loads((run_dir / "results.json").read_text())
    assert results["baselines"], "the run scores context rows"
    context = page[page.index("Context: model-free answers") :]
    for name, row in results["baselines"].items():
        assert f"<th>{name}</th>" in context
        fd = row.get("frechet_distance")
        if fd and fd["mean"] is not None:
            assert fmt(fd["mean"]) in context


def test_html_report_is_self_contained_and_its_images_decode(html_report):
    _, page = html_report
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/") for s in sources)
    assert "<script" not in page and "http://" not in page and "https://" not in page
    kinds = []
    for mime, data in re.findall(r'src="data:(image/\w+);base64,([^"]+)"', page):
        with Image.open(io.BytesIO(base64.b64decode(data))) as image:
            kinds.append((mime, image.format, getattr(image, "n_frames", 1) > 1))
    assert ("image/png", "PNG", False) in kinds  # plots
    assert kinds.count(("image/gif", "GIF", True)) >= 2  # animated best / median / worst


def test_markdown_report_carries_the_same_tables(run_dir, tmp_path):
    written = write_report(run_dir, tmp_path / "comment.md")
    text = (tmp_path / "comment.md").read_text()
    results = json.loads((run_dir / "results.json").read_text())
    assert written.format == "md" and text.startswith("# ")
    for title in (
        "## Run",
        "## Metrics",
        "## Robustness to prompt noise",
        "## Per action",
        "## Confusion matrix",
        "## Physical plausibility",
    ):
        assert title in text
    row = next(line for line in text.splitlines() if line.startswith("| pose_mse |"))
    assert f"{results['metrics']['pose_mse']['mean']:.4g}" in row
    typo = next(line for line in text.splitlines() if line.startswith("| typo |"))
    assert estimate(results["breakdowns"]["per_noise"]["typo"]["1"]["action_accuracy"]) in typo
    assert "data:image" not in text


def test_the_confusion_section_shows_the_matrix_when_results_carry_one(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    section = next(s for s in build_report(run_dir).sections if s.id == "confusion")
    confusion = results["breakdowns"].get("confusion")
    if confusion is None:
        assert "re-score" in section.blocks[0]
    else:
        table = section.blocks[0]
        assert [row[0] for row in table.rows] == confusion["labels"]
        assert [[int(c) for c in row[1:]] for row in table.rows] == confusion["matrix"]


def test_a_results_file_of_another_schema_version_is_refused(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    results = json.loads((copy / "results.json").read_text())
    (copy / "results.json").write_text(json.dumps({**results, "schema_version": 99}))
    with pytest.raises(ResultsFileError, match="schema_version 99, this stickeval reads 1; re-score"):
        write_report(copy)
    assert not (copy / "report.html").exists()


def test_missing_results_generations_or_output_directory_are_refused(run_dir, tmp_path):
    with pytest.raises(ResultsFileError, match="holds no results.json"):
        write_report(tmp_path)
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "generations")
    with pytest.raises(RunDirectoryError, match="missing"):
        write_report(copy)
    with pytest.raises(OutputPathError, match=r"\.html"):
        write_report(run_dir, tmp_path / "r.txt", format="html")
    assert not (tmp_path / "r.txt").exists()


def test_a_report_in_a_missing_directory_is_written_with_its_directories(run_dir, tmp_path):
    written = write_report(run_dir, tmp_path / "new" / "r.md")
    assert written.path == str(tmp_path / "new" / "r.md") and (tmp_path / "new" / "r.md").is_file()


def test_the_physical_table_shows_the_same_reference_values_as_the_metrics_table(run_dir):
    sections = {s.id: s for s in build_report(run_dir).sections}
    metrics = {row[0]: row[5] for row in sections["metrics"].blocks[0].rows}
    physical = sections["physical"].blocks[0]
    assert physical.columns[3] == "reference" and len(physical.rows) == 3
    for name, _, _, reference in physical.rows:
        assert reference == metrics[name] and reference != "—"


def test_the_context_rows_are_named_as_results_json_names_them(run_dir):
    results = json.loads((run_dir / "results.json").read_text())
    blocks = next(s for s in build_report(run_dir).sections if s.id == "metrics").blocks
    legend = next(b for b in blocks if isinstance(b, str) and b.startswith("Context:"))
    context = next(b for b in blocks if not isinstance(b, str) and b.columns[:2] == ["metric", "model"])
    assert context.columns[2:] == list(results["baselines"]) and "retrieval" in context.columns
    assert all(f"{row}: " in legend for row in results["baselines"]) and "lookup" not in legend
