"""Device, dtype and rank resolution: one place for every verb."""

import os
import threading

import pytest
import torch

from stickeval.device import (
    Rank,
    ThreadPlan,
    available_cpus,
    cpu_budget,
    current_rank,
    on_device,
    resolve_device,
    resolve_dtype,
    thread_plan,
    torch_threads,
)
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


# ---- CPU threads


def test_the_cpu_budget_is_the_threads_asked_for_else_omp_num_threads_else_the_affinitys_cpus_but_one(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_budget(5) == 5 and cpu_budget() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert available_cpus() == len(os.sched_getaffinity(0))
    assert cpu_budget() == max(1, available_cpus() - 1)


@pytest.mark.parametrize(
    ("env", "threads", "message"), [("", 0, "--threads must be at least 1, got 0"), ("two", None, "OMP_NUM_THREADS='two'")]
)
def test_a_bad_thread_count_is_refused_by_name(monkeypatch, env, threads, message):
    monkeypatch.setenv("OMP_NUM_THREADS", env)
    with pytest.raises(DeviceError, match=message):
        cpu_budget(threads)


def test_one_cpu_is_left_to_the_rest_of_the_machine_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert cpu_budget() == 3 and cpu_budget(4) == 4
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert cpu_budget() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert cpu_budget() == 2


def test_cpu_generation_takes_all_threads_but_one_and_scoring_runs_beside_it_on_the_last():
    cpu = torch.device("cpu")
    assert thread_plan(cpu, 2) == ThreadPlan(budget=2, generation=1, score_beside=True, scoring_workers=1)
    assert thread_plan(cpu, 8) == ThreadPlan(budget=8, generation=7, score_beside=True, scoring_workers=1)
    assert thread_plan(cpu, 1) == ThreadPlan(budget=1, generation=1, score_beside=False, scoring_workers=1)


def test_on_cuda_one_thread_feeds_the_gpu_and_scoring_beside_it_may_use_the_rest():
    assert thread_plan(torch.device("cuda"), 16) == ThreadPlan(budget=16, generation=1, score_beside=True, scoring_workers=15)


def test_torch_threads_sets_the_count_for_this_thread_and_threads_it_starts_then_restores_it():
    before = torch.get_num_threads()
    seen = []
    with torch_threads(1):
        worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        assert torch.get_num_threads() == 1
    assert seen == [1] and torch.get_num_threads() == before
