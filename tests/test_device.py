"""Device, dtype and rank resolution: one place for every verb."""

import pytest
import torch

from stickeval.device import Rank, current_rank, on_device, resolve_device, resolve_dtype
from stickeval.errors import DeviceError
from stickeval.zoo.model import ModelConfig, StickFigureTransformer


@pytest.mark.parametrize("device, message", [("gpu", "Unknown device"), ("meta", "not supported")])
def test_bad_devices_are_refused_by_name(device, message):
    with pytest.raises(DeviceError, match=message):
        resolve_device(device)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_on_a_machine_without_it_is_refused():
    with pytest.raises(DeviceError, match="no CUDA device; use --device cpu"):
        resolve_device("cuda")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the default on a machine without CUDA")
def test_the_default_device_without_cuda_is_the_cpu():
    assert resolve_device(None) == torch.device("cpu")


def test_default_dtype_is_float32_on_cpu_and_names_are_checked():
    assert resolve_dtype(None, torch.device("cpu")) == torch.float32
    assert resolve_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(DeviceError, match="Unknown dtype 'half'"):
        resolve_dtype("half", torch.device("cpu"))


def test_rank_comes_from_torchrun_variables(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert current_rank() == Rank(0, 0, 1) and current_rank().is_main and not current_rank().distributed
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert current_rank() == Rank(3, 1, 4) and not current_rank().is_main and current_rank().distributed


def test_on_device_never_modifies_the_callers_model():
    model = StickFigureTransformer(ModelConfig(d_model=32, nhead=2, num_layers=1, num_actions=46)).train()
    engine = on_device(model, torch.device("cpu"), torch.float64)
    assert model.training and next(model.parameters()).dtype == torch.float32
    assert not engine.training and next(engine.parameters()).dtype == torch.float64
    same = on_device(model.eval(), torch.device("cpu"), torch.float32)
    assert same is model
