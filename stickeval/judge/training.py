"""Training the evaluator (contrastive, text against motion) and the action classifier, seeded.

Both train on one CPU thread with a seeded torch generator, so the same data, config and seed give
bit-identical weights on a machine (`test_training_is_bit_reproducible`). Cost on the 2-core CI
machine is in docs/metrics.md.

The contrastive loss is the symmetric InfoNCE of CLIP on the L2-normalised co-embeddings, with two
changes for this data: prompts repeat (70 distinct prompts on the real track), so a clip's positives
are every clip of the batch with the same prompt, never a false negative; and five corrupted copies
of each clip are extra negatives for every text (`NEGATIVES`, built by `corrupted_copies`): played
backwards, frames shuffled, smoothed (a moving average over 3-31 frames), its joints jittered around
a fixed hip (0.5-10% of body scale) and played slower or faster (1.5-2.5 times); each strength is
drawn per clip, log-uniformly, so light corruptions are as common as heavy ones. The evaluator is
taught that such motion does not answer the prompt: the T2M evaluator is order-aware by architecture
only (its GRU can still score a reversed walk as a walk), over-smoothing is what an MSE-trained
generator such as Stick-Gen drifts to (regression to the mean), and an evaluator trained without
light smoothing, pose jitter or speed changes among its negatives does not tell them from real
motion. The validity table reports the families built from these corruptions apart from those it
never saw (`stickeval.evaluation.validity.TRAINING_NEGATIVE`).
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
from stickeval.metrics.corruptions import change_speed, jitter_joints, moving_average, reverse_clips, shuffle_clips

# Corrupted copies of each clip, negatives for every text, and the range each one's strength is drawn from
# (per clip, log-uniformly):
SMOOTH_WINDOWS = (3, 31)  # frames of the moving average (odd)
JITTER_SD = (0.005, 0.10)  # torso lengths: each non-root joint's noise per frame and coordinate
SPEED_FACTORS = (1.5, 2.5)  # slower or faster by this factor, each with probability 1/2
NEGATIVES = ("reversed", "shuffled", "smoothed", "jittered", "speed")


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
    device: str = "cpu",
) -> tuple[TextMotionEvaluator, dict]:
    """Train the text-motion evaluator on a domain's train split.

    Args:
        motion: float [N, T, D] training clips; lengths: int [N] real frames.
        prompt_embeddings: float32 [N, text_dim] hash embeddings of the prompts.
        prompts: the N prompt strings (clips with the same prompt are each other's positives).
        config: architecture; training: optimisation settings.
        device: where to train ("cpu": bit-reproducible; "cuda": for studies of many settings, not bit-reproducible).

    Returns:
        (the trained network on the CPU in eval mode, {"seconds": wall time, "final_loss": last epoch's mean}).

    Raises:
        EvaluatorError: `training.negatives` names an unknown corruption.
    """
    tracks, mask = motion_tracks(motion, lengths, derivatives=config.derivatives)
    copies = corrupted_copies(motion, lengths, training.negatives, np.random.default_rng(training.seed))
    negatives = [motion_tracks(clips, lengths, derivatives=config.derivatives)[0] for clips in copies.values()]
    _, prompt_ids = np.unique(np.asarray(prompts, dtype=str), return_inverse=True)
    data = [torch.from_numpy(a).to(device) for a in (tracks, mask, prompt_embeddings.astype(np.float32), *negatives)]
    ids = torch.from_numpy(prompt_ids).to(device)

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

    return _fit(lambda: TextMotionEvaluator(config), tracks, mask, training, batch_loss, device)


def corrupted_copies(motion: np.ndarray, lengths: np.ndarray, names: Sequence[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The evaluator's negatives: one corrupted copy of every clip per name of `NEGATIVES`, each clip's
    strength drawn from the ranges above (log-uniformly, so light corruptions are as common as heavy).

    Args:
        motion: float [N, T, D] clips; lengths: int [N] real frames.
        names: which corruptions, in order; rng: draws the strengths, the shuffles and the noise.

    Returns:
        {name: float64 [N, T, D]}, in the order of `names`.

    Raises:
        EvaluatorError: a name is not in `NEGATIVES`.
    """
    unknown = sorted(set(names) - set(NEGATIVES))
    if unknown:
        raise EvaluatorError(f"unknown negatives {unknown} in the training settings; choose from {', '.join(NEGATIVES)}.")
    n = len(motion)

    def log_uniform(low: float, high: float) -> np.ndarray:
        return np.exp(rng.uniform(np.log(low), np.log(high), size=n))

    build = {
        "reversed": lambda: reverse_clips(motion, lengths),
        "shuffled": lambda: shuffle_clips(motion, lengths, rng),
        "smoothed": lambda: moving_average(motion, 2 * np.round((log_uniform(*SMOOTH_WINDOWS) - 1) / 2).astype(np.int64) + 1),
        "jittered": lambda: jitter_joints(motion, lengths, log_uniform(*JITTER_SD), rng),
        "speed": lambda: change_speed(motion, lengths, log_uniform(*SPEED_FACTORS) ** rng.choice([-1.0, 1.0], size=n)),
    }
    return {name: build[name]() for name in names}


def train_classifier(
    motion: np.ndarray,
    lengths: np.ndarray,
    labels: Sequence[str],
    *,
    config: EvaluatorConfig,
    training: TrainingConfig = TrainingConfig(),
    device: str = "cpu",
) -> tuple[ActionNet, dict]:
    """Train the time-aware action classifier (cross-entropy) on a domain's train split.

    Args:
        motion, lengths: the training clips; labels: N action names, each in `config.classes`.
        config: architecture (its `classes` set the logits); training: optimisation settings.
        device: as `train_evaluator`.

    Returns:
        (the trained network on the CPU in eval mode, {"seconds": wall time, "final_loss": last epoch's mean}).
    """
    tracks, mask = motion_tracks(motion, lengths, derivatives=config.derivatives)
    y = torch.tensor([config.classes.index(x) for x in labels])
    data = [torch.from_numpy(tracks).to(device), torch.from_numpy(mask).to(device), y.to(device)]

    def batch_loss(model: ActionNet, idx: torch.Tensor) -> torch.Tensor:
        x, m, target = (d[idx] for d in data)
        return nn.functional.cross_entropy(model(x, m), target)

    return _fit(lambda: ActionNet(config), tracks, mask, training, batch_loss, device)


def _fit(
    build: Callable[[], nn.Module],
    tracks: np.ndarray,
    mask: np.ndarray,
    training: TrainingConfig,
    batch_loss: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    device: str = "cpu",
) -> tuple[nn.Module, dict]:
    """The loop both networks share: seeded init and batch order, input statistics, AdamW + cosine.

    Returns:
        (the network on the CPU in eval mode, {"seconds": wall time of the loop, "final_loss": last epoch's mean}).
    """
    start = time.perf_counter()
    with _one_torch_thread():
        torch.manual_seed(training.seed)
        model = build()
        _standardise_inputs(model.motion, tracks, mask)
        model.to(device)
        gen = torch.Generator().manual_seed(training.seed)
        steps = training.epochs * len(_batches(len(tracks), training.batch_size, torch.Generator()))
        opt, sched = _optimiser(model, training, steps)
        model.train()
        for _ in range(training.epochs):
            losses = []
            for idx in _batches(len(tracks), training.batch_size, gen):
                loss = batch_loss(model, idx.to(device))
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
        model.cpu().eval()
    return model, {"seconds": time.perf_counter() - start, "final_loss": float(np.mean(losses))}
