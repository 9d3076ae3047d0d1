"""The global batch is the recipe's; micro-batches only decide how it is computed (on CPU, fp32)."""

import json

import pytest
import torch

from stickeval.data import save_dataset
from stickeval.train import load_recipe, train
from stickeval.train.objective import compute_loss, make_batch
from stickeval.train.trainer import train_step
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from tests.train.conftest import TINY, tiny_samples

WEIGHTS = {"temporal": 0.1, "action": 0.2, "physics": 0.25, "diff_physics": 0.1}


def tiny_model() -> StickFigureTransformer:
    torch.manual_seed(0)
    return StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, embedding_dim=32, dropout=0.0))


def clips(n: int) -> dict:
    """n StickBench clips of 24 frames, stacked as the trainer holds them."""
    samples = tiny_samples(n)
    data = {k: torch.stack([torch.as_tensor(s[k]) for s in samples]).float() for k in ("motion", "embedding", "physics")}
    data["actions"] = torch.stack([torch.as_tensor(s["actions"]) for s in samples]).long()
    return data


def step_in(micro_batch: int, data: dict, global_batch: int) -> tuple[StickFigureTransformer, float]:
    """A fresh tiny model after one optimizer step on `data` cut into micro-batches of `micro_batch`.

    SGD, whose update is linear in the gradient, so that the weights compare the gradients: AdamW's
    first update, lr·g/(|g| + eps), turns a rounding difference in a gradient near eps into up to 2·lr
    (the trainer's AdamW is covered by the run-level test below)."""
    model = tiny_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [make_batch(data, rows) for rows in torch.arange(len(data["motion"])).split(micro_batch)]
    _, grad_norm = train_step(model, optimizer, batches, WEIGHTS, global_batch=global_batch, max_grad_norm=1e9).read()
    return model, grad_norm


@pytest.mark.parametrize("samples", [8, 6], ids=["full step", "partial last accumulation"])
def test_micro_batches_of_2_x_4_and_one_of_8_give_the_same_weights_after_a_step(samples):
    data = clips(samples)
    (two, norm_two), (eight, norm_eight) = step_in(2, data, 8), step_in(8, data, 8)
    assert abs(norm_two - norm_eight) <= 1e-6 * norm_eight
    for name, weight in eight.state_dict().items():  # relative to each tensor's norm (measured: at most 2.6e-7)
        assert (two.state_dict()[name] - weight).norm() <= 1e-6 * weight.norm(), name


def test_a_partial_last_accumulation_divides_each_batch_loss_by_grad_accum_as_the_original():
    """The original steps on what is left at an epoch's end with every batch's loss / grad_accum:
    2 batches of 2 samples with grad_accum 4 get half the gradient of a full step's mean, not the mean."""
    data = clips(4)
    stepped, _ = step_in(2, data, 8)
    original = tiny_model()
    for rows in torch.arange(4).split(2):
        (compute_loss(original, make_batch(data, rows), WEIGHTS)["total"] / 4).backward()
    for (name, p), q in zip(stepped.named_parameters(), original.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            assert torch.equal(p.grad, q.grad), name


def test_a_run_in_micro_batches_of_8_follows_the_run_in_batches_of_2(tmp_path):
    """The recipe's execution (micro-batch = batch_size 2) and one pass of 8 per step log the same
    losses with the trainer's AdamW, the last step of each epoch a partial one (5 batches of 2 per
    epoch, grad_accum 4); measured: 8e-8 relative at most."""
    data = tmp_path / "clips.pt"
    save_dataset(tiny_samples(10), data)
    common = [*TINY, 'data.source="file"', "data.val_fraction=0.0", "model.dropout=0.0", "schedule.batch_size=2", "schedule.grad_accum=4"]
    losses = {}
    for micro in (2, 8):
        result = train(load_recipe("pretrain-nano", [*common, f"schedule.micro_batch={micro}"]), tmp_path / f"m{micro}", data_path=data)
        assert result.micro_batch == micro and result.steps == 4  # 2 epochs x (4 + 1 batches)
        log = [json.loads(line) for line in (tmp_path / f"m{micro}" / "train_log.jsonl").read_text().splitlines()]
        losses[micro] = [line["loss"] for line in log if "loss" in line]
    for a, b in zip(losses[2], losses[8], strict=True):
        assert abs(a - b) <= 1e-5 * abs(b), losses


def test_auto_micro_batch_on_the_cpu_is_the_recipes_batch_size_and_is_recorded(tmp_path):
    result = train(load_recipe("pretrain-nano", [*TINY, "schedule.grad_accum=2"]), tmp_path / "run", max_steps=1)
    summary = json.loads((tmp_path / "run" / "training.json").read_text())
    assert result.micro_batch == summary["execution"]["micro_batch"] == 8
    assert summary["execution"]["global_batch"] == 16 and summary["execution"]["compiled"] is False
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["micro_batch"] == 8
    first = json.loads((tmp_path / "run" / "train_log.jsonl").read_text().splitlines()[0])
    assert first["samples_per_s"] > 0 and first["tflops"] > 0 and first["eta_s"] == 0.0
    assert first["fraction_of_peak"] is None  # no measured peak on a CPU
