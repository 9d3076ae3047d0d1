"""Tiny training runs for the trainer tests: a 32-wide one-layer model on 24-frame StickBench clips."""

from pathlib import Path

import numpy as np
import pytest
import torch

from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.text import get_encoder
from tests.cli.conftest import run_cli  # noqa: F401  (the CLI runner fixture, shared)
from tests.conftest import GOLDEN_TRAIN, golden_file

# --set overrides that shrink pretrain-nano to a model and data that train in about a second.
TINY = (
    "model.d_model=32",
    "model.nhead=2",
    "model.num_layers=1",
    "model.embedding_dim=32",
    'data.stickbench_size="quick"',
    "data.n_frames=24",
    "schedule.batch_size=8",
    "schedule.epochs=2",
    "optimizer.lr=1e-3",
    "run.log_every=1",
)


@pytest.fixture
def golden_train() -> dict:
    """The original trainer's one-step golden file."""
    return torch.load(golden_file(GOLDEN_TRAIN), weights_only=True)


def tiny_samples(n: int = 40, quality: float | None = None) -> list[dict]:
    """n StickBench clips cut to 24 frames with 32-dim hash embeddings, as a Stick-Gen .pt file holds them."""
    suite = load_suite("quick", split="train", limit=n)
    samples = suite_to_samples(suite, get_encoder("hash", dim=32).encode(list(suite.prompts)))
    out = []
    for s in samples:
        s = {k: (v[:24] if isinstance(v, np.ndarray) and k in ("motion", "actions", "physics", "camera") else v) for k, v in s.items()}
        if quality is not None:
            s["quality_score"] = quality
        out.append(s)
    return out


@pytest.fixture
def tiny_pt(tmp_path) -> Path:
    path = tmp_path / "tiny.pt"
    save_dataset(tiny_samples(), path)
    return path
