"""Animations from runs, datasets and prompts: deterministic GIFs, MP4, selection, and refused input."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.errors import (
    GenerationInputError,
    OutputPathError,
    PromptNoiseError,
    ResultsFileError,
    UnknownMetricError,
    UnknownPromptError,
)
from stickeval.metrics import METRICS
from stickeval.report.clips import (
    Selection,
    action_in_prompt,
    dataset_rows,
    prompt_rows,
    rows_for,
    run_rows,
)
from stickeval.report.draw import Layout, Panel, Row
from stickeval.report.render import render
from stickeval.report.runs import load_run

SMALL = Layout(panel=64, title=20, font_size=9)


def samples(run_dir) -> dict[str, dict]:
    return {row["id"]: row for row in map(json.loads, (run_dir / "samples.jsonl").read_text().splitlines())}


def test_the_same_clip_renders_to_the_same_gif_bytes(run_dir, tmp_path):
    rows, clips = run_rows(load_run(run_dir), Selection())
    first = render(rows, clips, tmp_path / "a.gif")
    render(rows, clips, tmp_path / "b.gif")
    assert (tmp_path / "a.gif").read_bytes() == (tmp_path / "b.gif").read_bytes()
    with Image.open(first.path) as gif:
        assert gif.n_frames == 250 and gif.info["duration"] == 40 and gif.info["loop"] == 0


def test_worst_and_best_follow_the_logged_per_sample_scores(run_dir):
    data = load_run(run_dir)
    logged = {k: v["scores"]["pose_mse"] for k, v in samples(run_dir).items()}
    _, worst = run_rows(data, Selection(worst=2))
    _, best = run_rows(data, Selection(best=1, metric="temporal_consistency"))
    assert [c.id for c in worst] == sorted(logged, key=logged.get, reverse=True)[:2]
    tc = {k: v["scores"]["temporal_consistency"] for k, v in samples(run_dir).items() if v["scores"]["temporal_consistency"] is not None}
    assert best[0].id == max(tc, key=tc.get)


def test_a_run_without_samples_jsonl_ranks_by_paired_metrics_computed_from_its_rollouts(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "samples.jsonl").unlink()
    data = load_run(copy)
    assert set(data.scores) == {m.name for m in METRICS.values() if m.kind == "paired"}
    np.testing.assert_allclose(data.scores["pose_mse"], [v["scores"]["pose_mse"] for v in samples(run_dir).values()], rtol=1e-6)
    with pytest.raises(UnknownMetricError, match="action_accuracy"):
        run_rows(data, Selection(worst=1, metric="action_accuracy"))


def test_action_and_noise_panels_show_the_run_s_noisy_prompt(run_dir):
    data = load_run(run_dir)
    label = data.suite.labels[1]
    rows, clips = run_rows(data, Selection(prompt_ids=(data.suite.ids[1],), noise="typo:2"))
    assert [p.caption.split(":")[0] for p in rows[0].panels] == ["generated", "noisy (typo", "reference"]
    assert clips[0].noisy_prompt == data.run["noisy_prompts"]["noise:typo:2"][1]
    np.testing.assert_array_equal(rows[0].panels[1].motion, data.noisy("noise:typo:2")[1])
    _, by_action = run_rows(data, Selection(action=label))
    assert by_action[0].label == label


def test_unknown_prompt_id_action_or_noise_is_one_clear_error(run_dir):
    data = load_run(run_dir)
    with pytest.raises(UnknownPromptError, match="No clip has prompt id 'sb1-99999'.*Known: sb1-"):
        run_rows(data, Selection(prompt_ids=("sb1-99999",)))
    with pytest.raises(UnknownPromptError, match="action 'moonwalk'"):
        run_rows(data, Selection(action="moonwalk"))
    with pytest.raises(UnknownPromptError, match="noise subset"):
        run_rows(data, Selection(prompt_ids=(data.suite.ids[-1],), noise="typo:1"))
    with pytest.raises(PromptNoiseError):
        Selection(noise="typo")
    with pytest.raises(GenerationInputError, match="not both"):
        Selection(worst=1, best=1)


def test_an_output_of_another_format_or_an_out_of_range_step_is_refused_before_drawing(tmp_path):
    rows = [Row("x", (Panel(np.zeros((3, 20)), "g"),))]
    with pytest.raises(OutputPathError, match=r"\.gif or \.mp4"):
        render(rows, [], tmp_path / "a.png", layout=SMALL)
    with pytest.raises(GenerationInputError, match="step must be 1 to 250"):
        render(rows, [], tmp_path / "new" / "a.gif", layout=SMALL, step=251)
    assert list(tmp_path.iterdir()) == []


def test_an_output_in_a_missing_directory_is_written_with_its_directories(tmp_path):
    rows = [Row("x", (Panel(np.zeros((3, 20)), "g"),))]
    rendered = render(rows, [], tmp_path / "new" / "sub" / "a.gif", layout=SMALL)
    assert rendered.path == str(tmp_path / "new" / "sub" / "a.gif") and rendered.frames == 3


def test_a_blank_prompt_is_refused_before_the_model_is_loaded():
    for blank in ("", "  \n"):
        with pytest.raises(GenerationInputError, match="The prompt is blank"):
            prompt_rows("no-such-variant", blank)


def test_a_run_directory_without_results_is_named_with_the_command_that_makes_one(tmp_path):
    with pytest.raises(ResultsFileError, match="holds no results.json; run `stickeval run"):
        rows_for(str(tmp_path), None, Selection())
    with pytest.raises(ResultsFileError, match="neither a run directory"):
        rows_for("nano", None, Selection())


def test_mp4_is_written_and_is_an_mp4(run_dir, tmp_path):
    rows, clips = run_rows(load_run(run_dir), Selection())
    out = render(rows, clips, tmp_path / "a.mp4", layout=SMALL, step=5)
    data = (tmp_path / "a.mp4").read_bytes()
    assert out.frames == 50 and data[4:8] == b"ftyp" and len(data) > 1000


def test_a_dataset_file_renders_its_clips(tmp_path):
    suite = load_suite("quick", limit=3)
    path = tmp_path / "d.pt"
    save_dataset(suite_to_samples(suite), path)
    rows, clips = dataset_rows(path, Selection(action=suite.labels[2]))
    assert clips[0].label == suite.labels[2] and len(rows[0].panels) == 1
    np.testing.assert_array_equal(rows[0].panels[0].motion, suite.motion[2])


def test_a_prompt_is_generated_with_a_checkpoint_and_its_action_read_from_the_words(checkpoint, tmp_path):
    assert action_in_prompt("a person waves") == "wave" and action_in_prompt("someone is walking") == "walk"
    assert action_in_prompt("stands still") == "stand" and action_in_prompt("xyz") == "idle"
    rows, clips = prompt_rows(str(checkpoint), "a person waves", noise="typo:3")
    assert clips[0].label == "wave" and clips[0].noisy_prompt and clips[0].noisy_prompt != "a person waves"
    assert [p.motion.shape for p in rows[0].panels] == [(250, 20), (250, 20)]
    rendered = render(rows, clips, tmp_path / "wave.gif", layout=SMALL)
    with Image.open(io.BytesIO((tmp_path / "wave.gif").read_bytes())) as gif:
        assert gif.n_frames == rendered.frames == 250


def test_a_v3_model_renders_from_a_prompt_with_twelve_segment_frames(tmp_path):
    from tests.fixtures.checkpoints import build_tiny_checkpoint

    checkpoint = build_tiny_checkpoint(tmp_path / "v3", input_dim=48, output_dim=48, metadata={"encoder": "hash"})
    rows, clips = prompt_rows(str(checkpoint), "someone dances")
    assert clips[0].label == "dance" and rows[0].panels[0].motion.shape == (250, 48)
    assert render(rows, clips, tmp_path / "v3.gif", layout=SMALL, step=10).frames == 25
