"""Training the evaluator (contrastive, text against motion) and the action classifier, seeded.

Both train on one CPU thread with a seeded torch generator, so the same data, config and seed give
bit-identical weights on a machine (`test_training_is_bit_reproducible`). Cost on the 2-core CI
machine is in docs/metrics.md.

The contrastive loss is the symmetric InfoNCE of CLIP on the L2-normalised co-embeddings, with two
changes for this data: prompts repeat (70 distinct prompts on the real track), so a clip's positives
are every clip of the batch with the same prompt, never a false negative; and three corrupted copies
of each clip are extra negatives for every text: played backwards, frames shuffled, and over-smoothed
(a moving average over 5-25 frames, drawn per clip). The evaluator is taught that such motion does
not answer the prompt: the T2M evaluator is order-aware by architecture only (its GRU can still score
a reversed walk as a walk), and over-smoothing is what an MSE-trained generator such as Stick-Gen
drifts to (regression to the mean), so an evaluator blind to it would flatter exactly those models.
The validity table marks these three families as seen in training (docs/metrics.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from stickeval.errors import EvaluatorError
from stickeval.judge.inputs import motion_tracks
from stickeval.judge.model import ActionNet, EvaluatorConfig, MotionEncoder, TextMotionEvaluator
from stickeval.metrics.corruptions import moving_average, reverse_clips, shuffle_clips

SMOOTH_WINDOWS = (5, 25)  # frames: range of the moving-average windows of the over-smoothed negatives
NEGATIVES = ("reversed", "shuffled", "smoothed")  # corrupted copies of each clip, negatives for every text


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings (stored in the manifest).

    Attributes:
        epochs: passes over the training clips.
        batch_size: clips per step (InfoNCE negatives come from the batch).
        lr: AdamW learning rate, cosine-decayed to 0.
        weight_decay: AdamW weight decay.
        temperature: InfoNCE temperature on cosine similarities.
        seed: seeds the initial weights, batch order and the shuffled and smoothed negatives.
        negatives: the corrupted copies of each clip used as negatives for every text, from `NEGATIVES`.
    """

    epochs: int = 40
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.1
    seed: int = 0
    negatives: tuple[str, ...] = NEGATIVES


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch on one thread: reproducible to the bit, and fair to a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _standardise_inputs(encoder: MotionEncoder, tracks: np.ndarray, mask: np.ndarray) -> None:
    """Set the encoder's input statistics from the scored training frames."""
    frames = tracks[mask]
    encoder.input_mean.copy_(torch.from_numpy(frames.mean(axis=0)))
    encoder.input_std.copy_(torch.from_numpy(np.maximum(frames.std(axis=0), 1e-3)))


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator)
    return [order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size)] or [order]


def _optimiser(model: nn.Module, cfg: TrainingConfig, steps: int):
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))


def train_evaluator(
    motion: np.ndarray,
    lengths: np.ndarray,
    prompt_embeddings: np.ndarray,
    prompts: Sequence[str],
    *,
    config: EvaluatorConfig,
    training: TrainingConfig = TrainingConfig(),
) -> tuple[TextMotionEvaluator, dict]:
    """Train the text-motion evaluator on a domain's train split.

    Args:
        motion: float [N, T, D] training clips; lengths: int [N] real frames.
        prompt_embeddings: float32 [N, text_dim] hash embeddings of the prompts.
        prompts: the N prompt strings (clips with the same prompt are each other's positives).
        config: architecture; training: optimisation settings.

    Returns:
        (the trained network in eval mode, {"seconds": wall time, "final_loss": last epoch's mean}).

    Raises:
        EvaluatorError: `training.negatives` names an unknown corruption.
    """
    rng = np.random.default_rng(training.seed)
    tracks, mask = motion_tracks(motion, lengths)
    corrupt = {
        "reversed": lambda: reverse_clips(motion, lengths),
        "shuffled": lambda: shuffle_clips(motion, lengths, rng),
        "smoothed": lambda: moving_average(
            motion, 2 * rng.integers(SMOOTH_WINDOWS[0] // 2, SMOOTH_WINDOWS[1] // 2 + 1, size=len(motion)) + 1
        ),
    }
    unknown = sorted(set(training.negatives) - set(corrupt))
    if unknown:
        raise EvaluatorError(f"unknown negatives {unknown} in the training settings; choose from {sorted(corrupt)}.")
    negatives = [motion_tracks(corrupt[name](), lengths)[0] for name in training.negatives]
    _, prompt_ids = np.unique(np.asarray(prompts, dtype=str), return_inverse=True)
    data = [torch.from_numpy(a) for a in (tracks, mask, prompt_embeddings.astype(np.float32), *negatives)]
    ids = torch.from_numpy(prompt_ids)

    def batch_loss(model: TextMotionEvaluator, idx: torch.Tensor) -> torch.Tensor:
        x, m, text, *corrupted = (d[idx] for d in data)
        t = model.embed_text(text)  # (B, E)
        motions = model.embed_motion(torch.cat([x, *corrupted]), m.repeat(1 + len(corrupted), 1))  # (kB, E)
        positive = (ids[idx][:, None] == ids[idx][None, :]).float()  # (B, B) same prompt
        target = positive / positive.sum(1, keepdim=True)
        logits = t @ motions.T / training.temperature  # (B, kB): real clips, then the corrupted ones
        t2m = -(target * logits[:, : len(idx)].log_softmax(-1)).sum(-1).mean()
        t2m_corrupted = -(target * logits.log_softmax(-1)[:, : len(idx)]).sum(-1).mean()
        m2t = -(target * logits[:, : len(idx)].T.log_softmax(-1)).sum(-1).mean()
        return (t2m + t2m_corrupted + 2 * m2t) / 4

    return _fit(lambda: TextMotionEvaluator(config), tracks, mask, training, batch_loss)


def train_classifier(
    motion: np.ndarray,
    lengths: np.ndarray,
    labels: Sequence[str],
    *,
    config: EvaluatorConfig,
    training: TrainingConfig = TrainingConfig(),
) -> tuple[ActionNet, dict]:
    """Train the time-aware action classifier (cross-entropy) on a domain's train split.

    Args:
        motion, lengths: the training clips; labels: N action names, each in `config.classes`.
        config: architecture (its `classes` set the logits); training: optimisation settings.

    Returns:
        (the trained network in eval mode, {"seconds": wall time, "final_loss": last epoch's mean}).
    """
    tracks, mask = motion_tracks(motion, lengths)
    y = torch.tensor([config.classes.index(x) for x in labels])
    data = [torch.from_numpy(tracks), torch.from_numpy(mask), y]

    def batch_loss(model: ActionNet, idx: torch.Tensor) -> torch.Tensor:
        x, m, target = (d[idx] for d in data)
        return nn.functional.cross_entropy(model(x, m), target)

    return _fit(lambda: ActionNet(config), tracks, mask, training, batch_loss)


def _fit(
    build: Callable[[], nn.Module],
    tracks: np.ndarray,
    mask: np.ndarray,
    training: TrainingConfig,
    batch_loss: Callable[[nn.Module, torch.Tensor], torch.Tensor],
) -> tuple[nn.Module, dict]:
    """The loop both networks share: seeded init and batch order, input statistics, AdamW + cosine.

    Returns:
        (the network in eval mode, {"seconds": wall time of the loop, "final_loss": last epoch's mean}).
    """
    start = time.perf_counter()
    with _one_torch_thread():
        torch.manual_seed(training.seed)
        model = build()
        _standardise_inputs(model.motion, tracks, mask)
        gen = torch.Generator().manual_seed(training.seed)
        steps = training.epochs * len(_batches(len(tracks), training.batch_size, torch.Generator()))
        opt, sched = _optimiser(model, training, steps)
        model.train()
        for _ in range(training.epochs):
            losses = []
            for idx in _batches(len(tracks), training.batch_size, gen):
                loss = batch_loss(model, idx)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
        model.eval()
    return model, {"seconds": time.perf_counter() - start, "final_loss": float(np.mean(losses))}
