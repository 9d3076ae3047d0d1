"""The training loop: `train(recipe, out_dir)` from scratch, from a checkpoint, or resumed, on one device or under torchrun.

One optimizer step = `grad_accum` micro-batches of `batch_size` samples per process; gradients
are averaged over them (and over processes by DistributedDataParallel, synchronised only on the
last micro-batch), clipped to `max_grad_norm`, then AdamW steps and the schedule advances. The
learning rate is set per optimizer step: linear warmup over `warmup_fraction` of all steps, then a
cosine to `min_lr_ratio` (the original stepped a LambdaLR once per *epoch*: warmup (e+1)/W, then a
cosine over epochs; per-step is the same curve without the plateaus).

The data order is a DistributedSampler permutation seeded by (seed, epoch), so a run's batches
depend on the seed alone, and each process of a torchrun job takes its own shard of the same
permutation: two processes of batch b see exactly the samples one process of batch 2b sees.
Incomplete batches at the end of an epoch are dropped (every micro-batch has the same size, so
averaging micro-batch means is averaging over samples).

Checkpoints (`state.py`) hold everything a step depends on; resuming restores them after the model
is built, so a resumed run on CPU reproduces the uninterrupted one bit for bit.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from stickeval.device import current_rank, resolve_device, resolve_dtype
from stickeval.distributed import Group, process_group
from stickeval.errors import TrainStateError
from stickeval.train import output
from stickeval.train.dataset import TrainingData, prepare_data
from stickeval.train.objective import compute_loss, make_batch
from stickeval.train.recipe import Recipe, recipe_from_dict
from stickeval.train.state import TrainState, capture_rng, load_state, restore_rng, save_state
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

# Modules the objective never reads (no camera or partner input; pooled heads outside the loss): frozen,
# so DistributedDataParallel does not wait for gradients that never come. AdamW skipped them anyway
# (their .grad stays None in the original too: golden `params_without_grad`).
UNUSED_MODULES = ("camera_projection", "partner_projection", "position_decoder", "velocity_decoder", "environment_decoder")


@dataclass(frozen=True)
class TrainEvent:
    """What the trainer reports to its callback: a logged step, a finished epoch, or a saved checkpoint."""

    kind: str  # "start", "step", "epoch", "checkpoint"
    step: int
    total_steps: int
    epoch: int
    values: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainResult:
    """Where the trained model went and how the run ended."""

    out_dir: Path
    steps: int
    total_steps: int
    n_train: int
    n_val: int
    last_loss: float | None
    val_losses: list[float]
    curation: dict


def lr_factor(step: int, total_steps: int, warmup_fraction: float, min_lr_ratio: float) -> float:
    """The lr multiplier of optimizer step `step` (0-based): linear warmup, then cosine to `min_lr_ratio`."""
    warmup = round(warmup_fraction * total_steps)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass(frozen=True)
class StepResult:
    losses: dict[str, float]  # each term averaged over the micro-batches
    grad_norm: float  # total L2 norm before clipping


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[dict],
    weights: dict[str, float],
    *,
    loss: str = "original",
    scheduled_sampling: float = 0.0,
    max_grad_norm: float = 1.0,
    autocast_dtype: torch.dtype | None = None,
) -> StepResult:
    """One optimizer step over micro-batches, as the original: zero_grad, (total / n).backward() per
    micro-batch, clip_grad_norm_, step. Under DDP only the last micro-batch synchronises gradients."""
    optimizer.zero_grad(set_to_none=True)
    sums: dict[str, float] = {}
    device_type = batches[0]["data"].device.type
    for i, batch in enumerate(batches):
        sync = i == len(batches) - 1 or not hasattr(model, "no_sync")
        with model.no_sync() if not sync else contextlib.nullcontext():
            autocast = torch.autocast(device_type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
            with autocast:
                terms = compute_loss(model, batch, weights, loss=loss, scheduled_sampling=scheduled_sampling)
            (terms["total"] / len(batches)).backward()
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_grad_norm))
    optimizer.step()
    return StepResult({k: v / len(batches) for k, v in sums.items()}, grad_norm)


def build_model(recipe: Recipe, *, zoo: str | Path | None = None, weights: bool = True) -> StickFigureTransformer:
    """The recipe's architecture, randomly initialised (seeded by the caller) or with `model.init_from`'s
    weights (when `weights`; a resumed run takes them from its state instead).

    `causal` comes from `objective.kind`, never from the checkpoint: a bidirectional model can be
    fine-tuned causally.

    Raises:
        TrainStateError: the `init_from` weights have another architecture than the recipe (names the keys).
        UnknownVariantError, HubError, CheckpointError: as `zoo.load`.
    """
    m = recipe.model
    config = ModelConfig(
        input_dim=m.input_dim,
        d_model=m.d_model,
        nhead=m.nhead,
        num_layers=m.num_layers,
        output_dim=m.output_dim,
        embedding_dim=m.embedding_dim,
        num_actions=m.num_actions,
        dropout=m.dropout,
        causal=recipe.objective.kind == "causal",
    )
    model = StickFigureTransformer(config)
    init_from = m.init_from
    if not init_from or not weights:
        return model
    from stickeval import zoo as zoo_api  # the Hub client is needed only here

    loaded = zoo_api.load(init_from, zoo=zoo)
    ignore = ("dropout", "causal")
    theirs, ours = loaded.config.to_dict(), config.to_dict()
    differences = [f"{k} {theirs[k]} (recipe: {ours[k]})" for k in ours if k not in ignore and theirs[k] != ours[k]]
    if differences:
        raise TrainStateError(
            f"init_from {init_from} has another architecture than recipe {recipe.name}: {', '.join(differences)}. "
            "Use the recipe of that size (`stickeval recipes`), or --set model.<key>=<value> to match."
        )
    model.load_state_dict(loaded.model.state_dict(), strict=True)
    return model


def _all_mean(group: Group, values: dict[str, float]) -> dict[str, float]:
    """Average logged numbers over the processes of a torchrun job (identity on one process)."""
    return dict(zip(values, (v / group.rank.world_size for v in group.all_reduce(list(values.values())))))


def _check_processes(state: TrainState, directory: Path) -> None:
    """A resumed run needs the process count it was checkpointed with: the data position counts each
    process's micro-batches, and the global batch is batch_size x grad_accum x processes."""
    world_size = current_rank().world_size
    if state.world_size != world_size:
        launch = "stickeval finetune" if state.world_size == 1 else f"torchrun --nproc-per-node {state.world_size} -m stickeval finetune"
        raise TrainStateError(
            f"{directory} was checkpointed by {state.world_size} process(es), this job has {world_size}: its data position and "
            f"global batch depend on that number. Resume with `{launch} ... --resume`, or start a new run in another directory."
        )


@torch.no_grad()
def validation_loss(model: nn.Module, data: dict, recipe: Recipe, device: torch.device, autocast_dtype: torch.dtype | None) -> float | None:
    """Mean `total` over the validation set in eval mode (None when it is empty); restores train mode."""
    n = len(data["motion"])
    if n == 0:
        return None
    was_training = model.training
    model.eval()
    total, b = 0.0, recipe.schedule.batch_size
    for start in range(0, n, b):
        batch = make_batch(data, torch.arange(start, min(start + b, n)), device)
        autocast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        with autocast:
            total += float(compute_loss(model, batch, recipe.loss_weights(), loss=recipe.objective.loss)["total"]) * len(batch["data"])
    model.train(was_training)
    return total / n


def _check_resume(state: TrainState, recipe: Recipe, directory: Path) -> None:
    """A resumed run must use the recipe it started with (a different one would not continue it)."""
    saved = recipe_from_dict(state.recipe, source=str(directory / output.RECIPE_FILE)).to_dict()
    ours = recipe.to_dict()
    differences = [
        f"{section}.{k}" if isinstance(v, dict) else section
        for section, v in ours.items()
        for k in (v if isinstance(v, dict) else [None])
        if (saved[section].get(k) if isinstance(v, dict) else saved[section]) != (v[k] if isinstance(v, dict) else v)
    ]
    if differences:
        raise TrainStateError(
            f"{directory} was trained with another recipe ({saved['name']}); these keys differ: {', '.join(differences[:6])}. "
            f"Resume with --recipe {directory / output.RECIPE_FILE}, or start a new run in another directory."
        )


def train(
    recipe: Recipe,
    out_dir: str | Path,
    *,
    data_path: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    merge: bool = False,
    device: str | None = None,
    dtype: str | None = None,
    zoo: str | Path | None = None,
    callback: Callable[[TrainEvent], None] | None = None,
) -> TrainResult:
    """Train a model by a recipe and write a directory the zoo loads.

    Args:
        recipe: the validated recipe.
        out_dir: the run directory: model.safetensors, config.json, pytorch_model.bin (or LoRA adapters),
            recipe.toml, training.json (data hash, curation), train_log.jsonl, train_state.pt.
        data_path: the .pt file (overrides `data.path`).
        resume: continue the run in `out_dir` from its train_state.pt (same recipe), bit for bit.
        max_steps: stop after this many optimizer steps in all (the schedule still spans every epoch).
        merge: with LoRA, save merged weights instead of base + adapters.
        device, dtype: as `stickeval.device`; bfloat16 on CUDA means bf16 autocast over fp32 weights.
        zoo: extra variants for `model.init_from`.
        callback: receives a TrainEvent per logged step, epoch and checkpoint (rank 0 only).

    Raises:
        RecipeError, DatasetError, TrainStateError (also: a resume with another number of torchrun processes),
        CheckpointWriteError, DistributedError (another rank failed or hung), and the zoo's errors for `init_from`.
    """
    out_dir = Path(out_dir)
    dev = resolve_device(device)
    autocast_dtype = torch.bfloat16 if dev.type == "cuda" and resolve_dtype(dtype, dev) == torch.bfloat16 else None
    state = load_state(out_dir) if resume else None
    if state is not None:
        _check_resume(state, recipe, out_dir)
        _check_processes(state, out_dir)
    with process_group(dev) as job:
        data = prepare_data(recipe, data_path)
        torch.manual_seed(recipe.run.seed)
        model = build_model(recipe, zoo=zoo, weights=state is None)
        for name in UNUSED_MODULES:
            getattr(model, name).requires_grad_(False)
        if recipe.lora.enabled:
            from stickeval.train.lora import add_adapters

            lo = recipe.lora
            add_adapters(model, rank=lo.rank, alpha=lo.alpha, dropout=lo.dropout, target_modules=lo.target_modules)
        model.to(dev)
        return _run(
            recipe,
            model,
            data,
            out_dir,
            job,
            state=state,
            max_steps=max_steps,
            merge=merge,
            device=dev,
            autocast_dtype=autocast_dtype,
            callback=callback,
        )


def _run(
    recipe: Recipe,
    model: StickFigureTransformer,
    data: TrainingData,
    out_dir: Path,
    job: Group,
    *,
    state: TrainState | None,
    max_steps: int | None,
    merge: bool,
    device: torch.device,
    autocast_dtype: torch.dtype | None,
    callback: Callable[[TrainEvent], None] | None,
) -> TrainResult:
    from torch.utils.data import DistributedSampler

    rank = job.rank
    s, o = recipe.schedule, recipe.optimizer
    sampler = DistributedSampler(
        range(data.n_train), num_replicas=rank.world_size, rank=rank.rank, shuffle=True, seed=recipe.run.seed, drop_last=True
    )
    n_batches = len(sampler) // s.batch_size
    if n_batches == 0:
        raise TrainStateError(
            f"{data.n_train} training samples make no batch of {s.batch_size} per process on {rank.world_size} process(es). "
            "Lower schedule.batch_size, or add data."
        )
    steps_per_epoch = math.ceil(n_batches / s.grad_accum)
    total_steps = steps_per_epoch * s.epochs
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total_steps, s.warmup_fraction, s.min_lr_ratio))
    step, epoch, position = 0, 0, 0
    if state is not None:
        model.load_state_dict(state.model)
        optimizer.load_state_dict(state.optimizer)
        scheduler.load_state_dict(state.scheduler)
        step, epoch, position = state.step, state.epoch, state.position
    ddp = model
    if rank.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    writer = output.RunWriter(out_dir, recipe, enabled=rank.is_main)
    writer.start(data, resumed_at=step if state is not None else None)
    if state is not None:
        restore_rng(state.rng)  # last: building the model and adapters drew from the RNG

    def emit(kind: str, values: dict) -> None:
        if callback is not None and rank.is_main:
            callback(TrainEvent(kind, step, total_steps, epoch, values))

    def checkpoint() -> None:
        if rank.is_main:
            save_state(
                TrainState(
                    model.state_dict(),
                    optimizer.state_dict(),
                    scheduler.state_dict(),
                    step,
                    epoch,
                    position,
                    capture_rng(),
                    recipe.to_dict(),
                    rank.world_size,
                ),
                out_dir,
            )
            emit("checkpoint", {"path": str(out_dir)})

    emit("start", {"n_train": data.n_train, "n_val": data.n_val, "steps_per_epoch": steps_per_epoch})
    weights, last_loss, val_losses = recipe.loss_weights(), None, []
    stop = max_steps is not None and step >= max_steps
    window_start, window_samples = time.perf_counter(), 0
    model.train()
    while epoch < s.epochs and not stop:
        sampler.set_epoch(epoch)
        order = torch.tensor(list(sampler))
        while position < n_batches and not stop:
            group = range(position, min(position + s.grad_accum, n_batches))
            batches = [make_batch(data.train, order[i * s.batch_size : (i + 1) * s.batch_size], device) for i in group]
            if recipe.objective.input_noise:  # drawn from the saved RNG streams: a resume stays bit-identical
                for batch in batches:
                    batch["data"] = batch["data"] + recipe.objective.input_noise * torch.randn_like(batch["data"])
            lr = optimizer.param_groups[0]["lr"]
            result = train_step(
                ddp,
                optimizer,
                batches,
                weights,
                loss=recipe.objective.loss,
                scheduled_sampling=recipe.objective.scheduled_sampling,
                max_grad_norm=o.max_grad_norm,
                autocast_dtype=autocast_dtype,
            )
            scheduler.step()
            position += len(group)
            step += 1
            window_samples += len(group) * s.batch_size * rank.world_size
            stop = max_steps is not None and step >= max_steps
            if step % recipe.run.log_every == 0 or stop or position >= n_batches:
                losses = _all_mean(job, result.losses)
                elapsed = time.perf_counter() - window_start
                values = {
                    "lr": lr,
                    "loss": losses["total"],
                    **{k: v for k, v in losses.items() if k != "total"},
                    "grad_norm": result.grad_norm,
                    "samples_per_s": window_samples / elapsed if elapsed > 0 else None,
                }
                writer.log({"step": step, "epoch": epoch, **values})
                emit("step", values)
                last_loss = losses["total"]
                window_start, window_samples = time.perf_counter(), 0
            if recipe.run.save_every and step % recipe.run.save_every == 0 and not stop:
                checkpoint()
        if position >= n_batches:
            val = validation_loss(model, data.val, recipe, device, autocast_dtype)
            val_losses.append(val)
            writer.log({"step": step, "epoch": epoch, "val_loss": val})
            emit("epoch", {"val_loss": val})
            epoch, position = epoch + 1, 0
    checkpoint()
    if rank.is_main:
        writer.finish(model, data, steps=step, total_steps=total_steps, merge=merge)
    if rank.distributed:
        # Release DDP (its reducer holds the group's gloo work) while the group lives, and leave the group
        # together once rank 0 has written the model: without this a rank intermittently aborted at exit
        # ("terminate called without an active exception"; 3 of about 10 two-process test runs, 0 of 16 after).
        del ddp
        gc.collect()
        job.barrier("saving the model")
    return TrainResult(out_dir, step, total_steps, data.n_train, data.n_val, last_loss, val_losses, data.curation.to_dict())
