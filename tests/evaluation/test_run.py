"""`evaluate` / `score`: results with CIs, batch-size and thread-count invariance, resume, corrupt cache,
output directories of another run, bad input."""

import copy
import dataclasses
import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from stickeval import zoo
from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.device import ThreadPlan, cpu_budget
from stickeval.errors import (
    GenerationInputError,
    OutputPathError,
    RunDirectoryError,
    RunInterrupted,
    SchemaMismatchError,
    StickevalError,
    TextEncoderError,
    UnknownSuiteError,
)
from stickeval.evaluation import run as evaluation
from stickeval.evaluation.run import RunSettings, evaluate, score
from tests.fixtures.checkpoints import build_tiny_checkpoint

SMALL = RunSettings(limit=6, noise_prompts=3)  # 6 clean + 3 other + 18 x 3 noisy = 63 rows, one cache chunk


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return zoo.load(str(build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), metadata={"encoder": "hash"})))


@pytest.fixture(scope="module")
def small_run(loaded, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, evaluate(loaded, SMALL, out, log_samples=True)


def numbers(results: dict) -> dict:
    """Every figure (metrics and context rows) as (mean, low, high, n); null as np.nan (the one object, so equal)."""
    rows = {**{(row, name): e for row, r in results["baselines"].items() for name, e in r.items()}, **results["metrics"]}
    return {name: tuple(np.nan if v is None else v for v in (m["mean"], *m["ci95"], m["n"])) for name, m in rows.items()}


def test_results_carry_mean_ci_and_n_for_every_metric(small_run):
    out, results = small_run
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["metrics"] == results["metrics"]
    assert results["schema_version"] == 1 and results["suite"]["name"] == "stickbench-quick"
    assert results["suite"]["n"] == 6 and results["config"]["rows"] == 63
    for name, m in results["metrics"].items():
        assert set(m) >= {"mean", "ci95", "n", "higher_is_better"}, name
        if m["mean"] is not None:
            assert m["ci95"][0] <= m["mean"] + 1e-9 and m["mean"] <= m["ci95"][1] + 1e-9, name
    assert results["metrics"]["pose_mse"]["n"] == 6
    robustness = results["metrics"]["robustness"]  # per prompt, averaged over 6 kinds x 3 levels
    assert robustness["n"] + robustness["n_undefined"] == 3
    assert results["breakdowns"]["per_noise"]["typo"]["1"]["robustness"]["n"] <= 3
    assert set(results["breakdowns"]["per_noise"]) == {"typo", "dropout", "synonym", "order", "case", "filler"}
    assert results["model"]["hash"] and results["tool"]["version"]


def test_log_samples_writes_one_json_line_per_sample(small_run):
    out, _ = small_run
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 6
    assert set(json.loads(lines[0])["scores"]) >= {"pose_mse", "temporal_consistency", "action_accuracy"}


def test_same_seed_gives_the_same_numbers_whatever_the_batch_size(loaded, small_run, tmp_path):
    _, reference = small_run
    other = evaluate(loaded, RunSettings(limit=6, noise_prompts=3, batch_size=5), tmp_path)
    for name, values in numbers(reference).items():
        np.testing.assert_allclose(numbers(other)[name], values, rtol=1e-4, atol=1e-6, err_msg=name)


def test_a_different_noise_seed_gives_different_noisy_prompts(loaded, small_run, tmp_path):
    out, _ = small_run
    evaluate(loaded, RunSettings(limit=6, noise_prompts=3, seed=1), tmp_path)
    a = json.loads((out / "run.json").read_text())["noisy_prompts"]
    b = json.loads((tmp_path / "run.json").read_text())["noisy_prompts"]
    assert a.keys() == b.keys() and a != b


def test_score_rescores_the_cache_without_the_model(small_run):
    out, results = small_run
    assert numbers(score(out)) == numbers(results)


def test_rerun_regenerates_nothing_already_cached(loaded, small_run, tmp_path):
    out, results = small_run
    shutil.copytree(out, tmp_path / "copy")
    again = evaluate(loaded, SMALL, tmp_path / "copy")
    assert again["timing"]["rows_generated_now"] == 0
    assert numbers(again) == numbers(results)


def test_an_interrupted_run_resumes_and_matches_an_uninterrupted_one(loaded, small_run, tmp_path, monkeypatch):
    _, straight = small_run
    monkeypatch.setattr(evaluation, "CHUNK_ROWS", {False: 32, True: 32})  # 63 rows in chunks of 32 and 31
    settings = replace(SMALL, batch_size=8)

    def interrupt_in_second_chunk(done, total):
        if done > 32:  # the first chunk is complete and saved
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(loaded, settings, tmp_path, progress=interrupt_in_second_chunk)
    resumed = evaluate(loaded, settings, tmp_path)
    assert resumed["timing"]["rows_generated_now"] == 63 - 32
    for name, values in numbers(straight).items():
        np.testing.assert_allclose(numbers(resumed)[name], values, rtol=1e-4, atol=1e-6, err_msg=name)


def test_no_resume_generates_everything_again(loaded, small_run, tmp_path):
    out, results = small_run
    shutil.copytree(out, tmp_path / "copy")
    again = evaluate(loaded, SMALL, tmp_path / "copy", resume=False)
    assert again["timing"]["rows_generated_now"] == 63
    assert numbers(again) == numbers(results)


def test_the_whole_quick_suite_completes(loaded, tmp_path):
    results = evaluate(loaded, RunSettings(noise_prompts=4), tmp_path)
    assert results["suite"]["n"] == 127 and results["metrics"]["pose_mse"]["n"] == 127
    assert set(results["breakdowns"]["per_action"]["action_accuracy"]) == set(load_suite("quick").labels)


def test_a_dataset_scores_with_its_stored_embeddings_and_skips_noise_without_the_encoder(tmp_path):
    suite = load_suite("quick", limit=5)
    embeddings = np.random.default_rng(0).standard_normal((5, 1024)).astype(np.float32)
    save_dataset(suite_to_samples(suite, embeddings), tmp_path / "sft_data_embedded.pt")
    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "no-such-encoder"})
    results = evaluate(zoo.load(str(ckpt)), replace(SMALL, suite=str(tmp_path / "sft_data_embedded.pt")), tmp_path / "run")
    assert results["suite"]["n"] == 5 and results["config"]["rows"] == 5
    assert "robustness" not in results["metrics"]
    assert any("robustness skipped" in notice and "no-such-encoder" in notice for notice in results["notices"])


def test_a_corrupt_cache_chunk_is_detected_and_regenerated(loaded, small_run, tmp_path):
    out, results = small_run
    shutil.copytree(out, tmp_path / "copy")
    chunk = next((tmp_path / "copy" / "generations").rglob("rows-*.npz"))
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(
        RunDirectoryError, match=r"rows 0-62 are corrupt; `stickeval score` never generates: run `stickeval run .* --resume`"
    ) as e:
        score(tmp_path / "copy")
    assert "regenerating" not in str(e.value)
    again = evaluate(loaded, SMALL, tmp_path / "copy")
    assert again["timing"]["rows_generated_now"] == 63
    assert numbers(again) == numbers(results)


def test_a_model_that_ignores_its_text_has_undefined_robustness_not_1(tmp_path):
    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "hash"})
    model, _ = zoo.load_checkpoint(ckpt)
    with torch.no_grad():
        model.text_projection[3].weight.zero_()  # every prompt maps to the same text token
    zoo.save_checkpoint(model, ckpt, metadata={"encoder": "hash"})
    results = evaluate(zoo.load(str(ckpt)), SMALL, tmp_path / "run")
    robustness = results["metrics"]["robustness"]
    assert robustness["mean"] is None and robustness["n"] == 0
    assert "ignores its text" in robustness["note"]


def test_a_model_that_names_no_text_encoder_is_refused_not_given_a_default(tmp_path):
    unnamed = zoo.load(str(build_tiny_checkpoint(tmp_path / "ckpt")))
    with pytest.raises(TextEncoderError, match="does not name its text encoder.*--encoder"):
        evaluate(unnamed, SMALL, tmp_path / "run")
    results = evaluate(unnamed, replace(SMALL, noise=False, encoder="hash"), tmp_path / "run")
    assert results["config"]["encoder"] == "hash"


def test_an_unknown_suite_is_refused(loaded, tmp_path):
    with pytest.raises(UnknownSuiteError, match="Unknown suite 'quik'.*Did you mean quick"):
        evaluate(loaded, RunSettings(suite="quik"), tmp_path)


def test_an_output_path_that_is_a_file_is_refused(loaded, tmp_path):
    (tmp_path / "results").write_text("")
    with pytest.raises(OutputPathError, match="it is a file"):
        evaluate(loaded, SMALL, tmp_path / "results")


def test_a_suite_of_another_schema_is_refused(tmp_path):
    wide = zoo.load(str(build_tiny_checkpoint(tmp_path / "v3", input_dim=48, output_dim=48, metadata={"encoder": "hash"})))
    with pytest.raises(SchemaMismatchError, match="20 numbers per frame but the model takes 48"):
        evaluate(wide, SMALL, tmp_path / "run")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"prime": "noise"}, "--prime must be one of reference, zeros"),
        ({"noise_prompts": 1}, "--noise-prompts must be at least 2"),
        ({"limit": 1}, "--limit must be at least 2 \\(Fréchet distance and diversity compare sets of clips\\), got 1"),
        ({"seed": -1}, "--seed must be 0 or more, got -1"),
        ({"threads": 0}, "--threads must be at least 1, got 0"),
        ({"dtype": "float16"}, "Unknown dtype 'float16'"),
        ({"device": "tpu"}, "not supported|Unknown device"),
        ({"encoder": "no-such-encoder"}, "Unknown text encoder"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_written(loaded, tmp_path, fields, message):
    with pytest.raises(StickevalError, match=message):
        evaluate(loaded, RunSettings(**fields), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_robustness_uses_one_encoder_for_clean_noisy_and_other_prompts(tmp_path):
    suite = load_suite("quick", limit=4)
    stored = np.random.default_rng(0).standard_normal((4, 1024)).astype(np.float32)  # not the hash encoder's
    save_dataset(suite_to_samples(suite, stored), tmp_path / "data.pt")
    ckpt = zoo.load(str(build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "hash"})))
    results = evaluate(ckpt, RunSettings(suite=str(tmp_path / "data.pt"), noise_prompts=3), tmp_path / "run")
    roles = json.loads((tmp_path / "run" / "run.json").read_text())["roles"]
    assert roles.count("clean") == 4 and roles.count("anchor") == 3 and roles.count("other") == 3
    assert results["metrics"]["robustness"]["n"] + results["metrics"]["robustness"]["n_undefined"] == 3


def test_a_small_dataset_says_its_reference_row_is_not_independent(tmp_path):
    suite = load_suite("quick", limit=3)
    save_dataset(suite_to_samples(suite), tmp_path / "data.pt")
    ckpt = zoo.load(str(build_tiny_checkpoint(tmp_path / "ckpt", metadata={"encoder": "hash"})))
    results = evaluate(ckpt, RunSettings(suite=str(tmp_path / "data.pt"), noise=False), tmp_path / "run")
    assert any("training accuracy" in notice for notice in results["notices"])


def test_an_unreadable_run_json_says_to_rerun(small_run, tmp_path):
    out, _ = small_run
    shutil.copytree(out, tmp_path / "copy")
    (tmp_path / "copy" / "run.json").write_text('{"settings": ')
    with pytest.raises(RunDirectoryError, match="unreadable.*rerun `stickeval run"):
        score(tmp_path / "copy")


def test_results_name_the_device_that_generated(small_run):
    _, results = small_run
    assert results["timing"]["device_name"]
    assert results["config"]["device"] == "cpu" and results["config"]["dtype"] == "float32"


def test_score_of_a_directory_without_a_run_says_what_to_do(tmp_path):
    with pytest.raises(RunDirectoryError, match="holds no run.json; run `stickeval run`"):
        score(tmp_path)


def test_score_of_a_missing_directory_says_it_does_not_exist(tmp_path):
    with pytest.raises(RunDirectoryError, match="does not exist"):
        score(tmp_path / "nowhere")


def test_the_batch_size_is_resolved_once_and_recorded_with_the_chunk_size(small_run):
    out, results = small_run
    run = json.loads((out / "run.json").read_text())
    assert results["config"]["batch_size"] == 63 and results["config"]["batch_size_requested"] == "auto"  # CPU auto: all 63 rows
    assert run["settings"]["batch_size"] == 63 and run["chunk_rows"] % 63 == 0 and run["chunk_rows"] >= 63


def test_a_chunk_is_at_least_one_batch(loaded, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "CHUNK_ROWS", {False: 4, True: 4})
    evaluate(loaded, replace(SMALL, noise=False, batch_size=5), tmp_path)
    assert json.loads((tmp_path / "run.json").read_text())["chunk_rows"] == 5


def test_one_run_copies_the_model_to_its_device_once(loaded, tmp_path, monkeypatch):
    # float64 forces a copy (the loaded model is float32); 8 chunks of 8 rows, noise rows and the
    # teacher-forced pass must all run on that one copy. Counted: top-level deep copies of a module.
    copies = []
    real_deepcopy = copy.deepcopy

    def counting_deepcopy(x, memo=None, _nil=[]):  # noqa: B006 (copy.deepcopy's own signature)
        if memo is None and isinstance(x, torch.nn.Module):
            copies.append(type(x).__name__)
        return real_deepcopy(x, memo, _nil)

    monkeypatch.setattr(copy, "deepcopy", counting_deepcopy)
    monkeypatch.setattr(evaluation, "CHUNK_ROWS", {False: 8, True: 8})
    results = evaluate(loaded, replace(SMALL, dtype="float64", batch_size=4), tmp_path)
    assert results["config"]["rows"] == 63 and json.loads((tmp_path / "run.json").read_text())["chunk_rows"] == 8
    assert copies == ["StickFigureTransformer"]
    assert next(loaded.model.parameters()).dtype == torch.float32  # the caller's model is untouched


def test_stored_embeddings_of_another_width_are_refused_before_anything_is_written(loaded, tmp_path):
    suite = load_suite("quick", limit=4)
    narrow = np.random.default_rng(0).standard_normal((4, 512)).astype(np.float32)
    save_dataset(suite_to_samples(suite, narrow), tmp_path / "narrow.pt")
    with pytest.raises(SchemaMismatchError, match="512-dim prompt embeddings but the model takes 1024-dim"):
        evaluate(loaded, RunSettings(suite=str(tmp_path / "narrow.pt"), noise_prompts=3), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("batch_size", [0, -2, "big", 2.5])
def test_a_bad_batch_size_is_refused_before_anything_is_written(loaded, tmp_path, batch_size):
    with pytest.raises(StickevalError, match="--batch-size must be a positive integer or 'auto'"):
        evaluate(loaded, replace(SMALL, batch_size=batch_size), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_an_interrupted_run_says_how_many_rows_are_cached(loaded, tmp_path, monkeypatch):
    monkeypatch.setattr(evaluation, "CHUNK_ROWS", {False: 32, True: 32})

    def interrupt_in_second_chunk(done, total):
        if done > 32:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted) as e:
        evaluate(loaded, replace(SMALL, batch_size=8), tmp_path, progress=interrupt_in_second_chunk)
    assert (e.value.cached_rows, e.value.total_rows, e.value.output) == (32, 63, str(tmp_path))


def test_timing_says_where_the_wall_time_went(small_run):
    _, results = small_run
    timing = results["timing"]
    assert timing["prepare_seconds"] > 0 and timing["scoring_seconds"] > 0
    # the fill covers generation and teacher forcing, so it cannot be shorter than generation alone
    assert timing["fill_seconds"] >= timing["generation_seconds"] > 0


def test_the_suite_rows_scored_beside_generation_are_those_scored_alone_and_a_failure_there_still_propagates():
    # _scored_while_generating scores when the thread plan has a thread for it (a GPU run, or a CPU run
    # of at least 2 threads) and hands over what score_suite computes; else it leaves the rows to score_run.
    settings, suite = RunSettings(suite="quick", limit=40), load_suite("quick", limit=40)
    beside, alone_cpu = ThreadPlan(2, 1, True, 1), ThreadPlan(1, 1, False, 1)
    with evaluation._scored_while_generating(beside, True, settings, suite) as rows:
        pass
    alone = evaluation.score_suite(dataclasses.asdict(settings), suite)
    assert rows().reference == alone.reference and rows().context == alone.context
    for plan, main in ((alone_cpu, True), (beside, False)):
        with evaluation._scored_while_generating(plan, main, settings, suite) as rows:
            pass
        assert rows() is None
    with pytest.raises(KeyboardInterrupt):  # an interrupted generation is not swallowed by the scoring beside it
        with evaluation._scored_while_generating(beside, True, settings, suite):
            raise KeyboardInterrupt


def test_a_run_records_the_whole_suites_size_and_its_threads(small_run):
    out, results = small_run
    assert results["suite"]["n"] == 6 and results["suite"]["size"] == 127  # the first 6 of quick's 127 test prompts
    budget = cpu_budget()
    assert results["config"]["threads"] == budget and results["config"]["generation_threads"] == max(1, budget - 1)


def test_rollouts_on_one_and_two_torch_threads_agree_to_float_rounding(loaded, small_run, tmp_path):
    _, one = small_run
    two = evaluate(loaded, replace(SMALL, threads=3), tmp_path)  # generation on 2 threads, scoring beside on the third
    assert two["config"]["generation_threads"] == 2 and two["timing"]["rows_generated_now"] == 63  # another cache key
    for name, values in numbers(one).items():
        np.testing.assert_allclose(numbers(two)[name], values, rtol=1e-4, atol=1e-6, err_msg=name)


def test_scores_do_not_depend_on_the_threads_scoring_runs_on(small_run):
    out, _ = small_run
    assert numbers(score(out, threads=1)) == numbers(score(out, threads=2))


def test_a_fully_cached_run_has_no_rows_to_generate(loaded, small_run, tmp_path):
    out, _ = small_run
    shutil.copytree(out, tmp_path / "copy")
    calls = []
    evaluate(loaded, SMALL, tmp_path / "copy", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 0)]  # the cached chunk leaves nothing to generate: no rate of cached rows per second


def test_a_run_directory_of_another_suite_is_refused_and_force_replaces_that_runs_files(loaded, small_run, tmp_path):
    out, _ = small_run
    shutil.copytree(out, tmp_path / "run")
    (tmp_path / "run" / "report.html").write_text("<html>the other run</html>")
    save_dataset(suite_to_samples(load_suite("quick", limit=3)), tmp_path / "data.pt")
    other = RunSettings(suite=str(tmp_path / "data.pt"), noise=False)
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    with pytest.raises(OutputPathError, match=r"run already holds a run of \S+ on stickbench-quick; pass another -o/--out, or --force"):
        evaluate(loaded, other, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before
    results = evaluate(loaded, other, tmp_path / "run", force=True)
    assert results["suite"]["name"] == "data" and not (tmp_path / "run" / "report.html").exists()
    assert not (tmp_path / "run" / "samples.jsonl").exists() and len(list((tmp_path / "run" / "generations").iterdir())) == 1


def test_a_directory_of_other_files_is_refused_unless_forced_and_keeps_them(loaded, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    settings = replace(SMALL, noise=False, limit=2)
    with pytest.raises(OutputPathError, match=r"is not empty \(notes.txt\) and holds no stickeval run"):
        evaluate(loaded, settings, tmp_path)
    evaluate(loaded, settings, tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine" and (tmp_path / "results.json").is_file()


def test_a_dataset_of_one_sample_is_refused_before_anything_is_written(loaded, tmp_path):
    save_dataset(suite_to_samples(load_suite("quick", limit=1)), tmp_path / "one.pt")
    with pytest.raises(GenerationInputError, match=r"one.pt has 1 sample\(s\); a run needs at least 2"):
        evaluate(loaded, RunSettings(suite=str(tmp_path / "one.pt"), noise=False), tmp_path / "run")
    assert not (tmp_path / "run").exists()
