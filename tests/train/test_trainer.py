"""The loop: loss falls, resume is bit-identical (also after Ctrl-C), the output loads in the zoo, the schedule, LoRA runs."""

import json
import math
import signal

import pytest
import torch
from safetensors.torch import load_file

from stickeval.errors import RecipeError, TrainingInterrupted
from stickeval.train import load_recipe, train
from stickeval.train.state import STATE_FILE, load_state
from stickeval.train.trainer import lr_factor
from stickeval.zoo.checkpoint import load_checkpoint, read_checkpoint
from tests.train.conftest import TINY


def test_lr_schedule_warms_up_linearly_then_follows_a_cosine_to_the_floor():
    assert [lr_factor(s, 100, 0.1, 0.0) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_factor(10, 100, 0.1, 0.0) == 1.0
    assert math.isclose(lr_factor(55, 100, 0.1, 0.0), 0.5)
    assert math.isclose(lr_factor(100, 100, 0.1, 0.2), 0.2)
    assert lr_factor(0, 10, 0.0, 0.0) == 1.0  # no warmup: the full lr from the first step, as the golden step


def test_loss_falls_on_stickbench_for_a_tiny_model(tmp_path):
    recipe = load_recipe("pretrain-nano", [*TINY, "schedule.epochs=4", "optimizer.lr=3e-3"])
    result = train(recipe, tmp_path / "run")
    assert result.steps == result.total_steps == 4 * 14
    assert result.val_losses[-1] < 0.8 * result.val_losses[0]  # measured: 12.2 -> 7.6
    steps = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    actions = [s["action"] for s in steps if "loss" in s]
    assert len(actions) == result.steps
    # Per-step training totals swing with a few far-travelling clips; the action term is the steady signal.
    assert sum(actions[-10:]) < 0.85 * sum(actions[:10])  # measured: 4.3 -> 2.9


def test_resume_after_a_mid_epoch_stop_is_bit_identical_to_the_uninterrupted_run(tmp_path):
    # 7 steps per epoch; input noise on, so that its draws are part of what a resume must restore
    recipe = load_recipe("pretrain-nano", [*TINY, "schedule.grad_accum=2", "run.save_every=3", "objective.input_noise=0.05"])
    full = train(recipe, tmp_path / "full")
    stopped = train(recipe, tmp_path / "resumed", max_steps=5)
    assert stopped.steps == 5
    resumed = train(recipe, tmp_path / "resumed", resume=True)
    assert resumed.steps == full.steps == 14
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    def losses(run):
        lines = (tmp_path / run / "train_log.jsonl").read_text().splitlines()
        return [(d["step"], d.get("loss"), d.get("val_loss")) for d in map(json.loads, lines)]

    assert losses("full") == losses("resumed")


def test_output_directory_loads_in_the_zoo_with_causal_flag_recipe_and_data_hash(tmp_path, tiny_pt):
    recipe = load_recipe("pretrain-nano", [*TINY, 'data.source="file"', "schedule.epochs=1"])
    train(recipe, tmp_path / "run", data_path=tiny_pt)
    model, config = load_checkpoint(tmp_path / "run")
    assert config.causal and config.d_model == 32
    document = json.loads((tmp_path / "run" / "config.json").read_text())
    summary = json.loads((tmp_path / "run" / "training.json").read_text())
    assert document["encoder"] == "hash" and document["recipe"] == "pretrain-nano"
    import hashlib

    assert summary["data"]["sha256"] == document["data_sha256"] == hashlib.sha256(tiny_pt.read_bytes()).hexdigest()
    assert summary["n_train"] + summary["n_val"] == summary["curation"]["steps"][-1]["n_kept"] == 40
    assert load_recipe(tmp_path / "run" / "recipe.toml") == recipe


def test_lora_run_saves_adapters_the_zoo_merges_and_merge_saves_the_same_weights(tmp_path):
    overrides = [*TINY, "lora.enabled=true", "lora.rank=4", "optimizer.lr=1e-2", "schedule.epochs=1"]
    recipe = load_recipe("pretrain-nano", overrides)
    train(recipe, tmp_path / "adapters")
    train(recipe, tmp_path / "merged", merge=True)
    raw = read_checkpoint(tmp_path / "adapters")
    assert raw.lora_keys and raw.config_json["lora_config"]["rank"] == 4
    assert any(v.abs().sum() > 0 for k, v in raw.state_dict.items() if k.endswith(".lora_B"))  # the adapters trained
    adapted, _ = load_checkpoint(tmp_path / "adapters")
    merged, _ = load_checkpoint(tmp_path / "merged")
    assert not read_checkpoint(tmp_path / "merged").lora_keys
    for key, value in merged.state_dict().items():
        torch.testing.assert_close(adapted.state_dict()[key], value, atol=1e-6, rtol=1e-5, msg=key)


@pytest.mark.slow
def test_pretrain_nano_recipe_runs_a_few_steps_at_full_size(tmp_path):
    recipe = load_recipe("pretrain-nano", ['data.stickbench_size="quick"'])
    result = train(recipe, tmp_path / "nano", max_steps=3)
    assert result.steps == 3 and load_checkpoint(tmp_path / "nano")[1].d_model == recipe.model.d_model


@pytest.mark.slow
def test_a_compiled_step_trains_as_the_eager_model_does_with_and_without_lora(tmp_path):
    """The step compiled as one graph on the CPU: the same losses to 1e-6 over every step and a
    validation, and the same checkpoint keys."""
    for lora in (False, True):
        recipe = load_recipe("pretrain-nano", [*TINY, "model.dropout=0.0", "schedule.epochs=1", f"lora.enabled={str(lora).lower()}"])
        runs = {compiled: train(recipe, tmp_path / f"{lora}-{compiled}", compile=compiled) for compiled in (False, True)}
        assert runs[True].compiled and not runs[False].compiled
        logs = [
            [json.loads(line) for line in (tmp_path / f"{lora}-{c}" / "train_log.jsonl").read_text().splitlines()] for c in (False, True)
        ]
        for eager, compiled in zip(*logs, strict=True):
            key = "loss" if "loss" in eager else "val_loss"
            assert abs(eager[key] - compiled[key]) <= 1e-6 * abs(eager[key]), (eager, compiled)
        files = [load_file(tmp_path / f"{lora}-{c}" / "model.safetensors") for c in (False, True)]
        assert files[0].keys() == files[1].keys()


def test_input_noise_perturbs_the_inputs_only_and_a_negative_std_is_refused(tmp_path):
    quiet = train(load_recipe("pretrain-nano", [*TINY, "objective.input_noise=0.0"]), tmp_path / "quiet", max_steps=1)
    noisy = train(load_recipe("pretrain-nano", [*TINY, "objective.input_noise=0.5"]), tmp_path / "noisy", max_steps=1)
    first = [json.loads((tmp_path / run / "train_log.jsonl").read_text().splitlines()[0]) for run in ("quiet", "noisy")]
    assert quiet.steps == noisy.steps == 1 and first[0]["loss"] != first[1]["loss"]
    with pytest.raises(RecipeError, match="objective.input_noise must be >= 0"):
        load_recipe("pretrain-nano", ["objective.input_noise=-0.1"])


def test_scheduled_sampling_changes_the_training_step_and_must_be_a_probability(tmp_path):
    fed = train(load_recipe("pretrain-nano", [*TINY, "objective.scheduled_sampling=1.0"]), tmp_path / "fed", max_steps=1)
    taught = train(load_recipe("pretrain-nano", [*TINY, "objective.scheduled_sampling=0.0"]), tmp_path / "taught", max_steps=1)
    first = [json.loads((tmp_path / run / "train_log.jsonl").read_text().splitlines()[0]) for run in ("fed", "taught")]
    assert fed.steps == taught.steps == 1 and first[0]["loss"] != first[1]["loss"]
    with pytest.raises(RecipeError, match=r"objective.scheduled_sampling must be in \[0, 1\]"):
        load_recipe("pretrain-nano", ["objective.scheduled_sampling=1.5"])


def test_tensorboard_events_hold_every_logged_number_and_tensorboards_own_reader_reads_them(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(load_recipe("pretrain-nano", [*TINY, "schedule.epochs=1"]), tmp_path / "run", tensorboard=True)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    logged = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    losses = [(d["step"], d["loss"]) for d in logged if "loss" in d]
    assert len(losses) == result.steps
    assert [(e.step, pytest.approx(e.value)) for e in events.Scalars("train/loss")] == losses
    assert [e.value for e in events.Scalars("val/loss")] == pytest.approx(result.val_losses)
    assert {"train/lr", "train/grad_norm", "train/samples_per_s", "train/tflops"} <= set(events.Tags()["scalars"])


def test_tensorboard_without_its_package_is_refused_naming_the_extra(tmp_path, monkeypatch):
    import sys

    from stickeval.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if `tensorboard` were not installed
    with pytest.raises(MissingDependencyError, match=r"stickeval\[tensorboard\]"):
        train(load_recipe("pretrain-nano", TINY), tmp_path / "run", max_steps=1, tensorboard=True)


def test_ctrl_c_stops_after_the_step_in_progress_with_a_checkpoint_the_run_resumes_bit_identically(tmp_path):
    recipe = load_recipe("pretrain-nano", [*TINY, "objective.input_noise=0.05"])  # noise draws: the RNG must be saved right
    full = train(recipe, tmp_path / "full")

    def ctrl_c_at_step_3(event):
        if event.kind == "step" and event.step == 3:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C sends: step 3 is logged once step 4 is under way

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(TrainingInterrupted) as stopped:
        train(recipe, tmp_path / "resumed", callback=ctrl_c_at_step_3)
    # step 4 completes and is checkpointed (and logged); step 5 never starts
    assert (stopped.value.step, stopped.value.end_step) == (4, 28) and load_state(tmp_path / "resumed").step == 4
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl-C is handled as before the run again
    resumed = train(recipe, tmp_path / "resumed", resume=True)
    assert resumed.steps == full.steps == 28
    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    logs = [[json.loads(line) for line in (tmp_path / run / "train_log.jsonl").read_text().splitlines()] for run in ("full", "resumed")]
    assert [(d["step"], d.get("loss"), d.get("val_loss")) for d in logs[0]] == [
        (d["step"], d.get("loss"), d.get("val_loss")) for d in logs[1]
    ]


def test_ctrl_c_during_an_evaluation_stops_it_at_once_and_checkpoints_that_step(tmp_path):
    def evaluator(model, step):
        signal.raise_signal(signal.SIGINT)
        raise AssertionError("the evaluation went on after Ctrl-C")

    with pytest.raises(TrainingInterrupted) as stopped:
        train(load_recipe("pretrain-nano", TINY), tmp_path / "run", evaluator=evaluator, eval_every=2)
    assert stopped.value.step == 2 == load_state(tmp_path / "run").step


def test_a_second_ctrl_c_stops_at_once_without_a_checkpoint(tmp_path):
    def ctrl_c_twice(event):
        if event.kind == "step" and event.step == 2:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as stopped:
        train(load_recipe("pretrain-nano", TINY), tmp_path / "run", callback=ctrl_c_twice)
    assert type(stopped.value) is KeyboardInterrupt and not (tmp_path / "run" / STATE_FILE).exists()
