"""The training loop: `train(recipe, out_dir)` from scratch, from a checkpoint, or resumed, on one device or under torchrun.

One optimizer step trains on the global batch of `batch_size x grad_accum` samples per process:
each loss term is a mean over samples, and a forward/backward pass of c samples enters the gradient
as its loss x c / global batch, so the step's gradient is that of the mean over the global batch
however it is cut. The passes take `schedule.micro_batch` samples each (`execution.py`: on CUDA by
default the largest that fits); micro-batch = batch_size is the original's execution, `loss /
grad_accum` per batch. Gradients are averaged over processes by DistributedDataParallel
(synchronised only on the last pass), clipped to `max_grad_norm`, then AdamW steps and the schedule
advances. The learning rate is set per optimizer step: linear warmup over `warmup_fraction` of all
steps, then a cosine to `min_lr_ratio` (the original stepped a LambdaLR once per *epoch*: warmup
(e+1)/W, then a cosine over epochs; per-step is the same curve without the plateaus).

The data order is a DistributedSampler permutation seeded by (seed, epoch), so a run's batches
depend on the seed alone, and each process of a torchrun job takes its own shard of the same
permutation: two processes of batch b see exactly the samples one process of batch 2b sees.
Samples that do not fill a last `batch_size` batch of an epoch are dropped; an epoch's last step may
hold fewer than `grad_accum` batches, and its gradient is still divided by the full global batch, as
the original divides every batch's loss by `grad_accum`.

The device never waits for the host: the data is copied there once, losses are summed there, and a
logged step's numbers are read once the next step is queued behind it. Checkpoints (`state.py`) hold
everything a step depends on; resuming restores them after the model is built, so a resumed run on
CPU reproduces the uninterrupted one bit for bit.

A run stops early in two ways, each leaving a checkpoint to resume or fall back on. Ctrl-C ends it
after the optimizer step in progress, with a checkpoint of that step (`interrupt.py`; one process
only). A NaN or inf loss or gradient norm, read at a logged step, or NaN/inf weights, checked before
every save, end it with TrainingDivergedError before anything non-finite is written: the last
checkpoint on disk is the last good one.
"""

from __future__ import annotations

import contextlib
import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from stickeval.device import cpu_budget, current_rank, device_name, resolve_device, resolve_dtype, torch_threads
from stickeval.distributed import Group, process_group
from stickeval.errors import TrainingDivergedError, TrainingInterrupted, TrainStateError
from stickeval.train import output
from stickeval.train.dataset import TrainingData, prepare_data
from stickeval.train.execution import (
    CompiledLoss,
    autocast,
    device_split,
    inference_copy,
    measured_peak_tflops,
    resolve_micro_batch,
    training_kernels,
)
from stickeval.train.interrupt import StopRequest
from stickeval.train.objective import compute_loss, make_batch
from stickeval.train.recipe import Recipe, recipe_from_dict
from stickeval.train.speed import step_rates, training_flops_per_sample
from stickeval.train.state import STATE_FILE, TrainState, capture_rng, load_state, restore_rng, save_state
from stickeval.train.swiglu import fusable, fuse_swiglu
from stickeval.zoo.checkpoint import non_finite_keys
from stickeval.zoo.model import ModelConfig, StickFigureTransformer

# Modules the objective never reads (no camera or partner input; pooled heads outside the loss): frozen,
# so DistributedDataParallel does not wait for gradients that never come. The original's AdamW skipped
# them anyway: their .grad stays None there too.
UNUSED_MODULES = ("camera_projection", "partner_projection", "position_decoder", "velocity_decoder", "environment_decoder")


@dataclass(frozen=True)
class TrainEvent:
    """What the trainer reports to its callback: the start, a logged step, a finished epoch, an
    evaluation, or a saved checkpoint."""

    kind: str  # "start", "step", "epoch", "eval", "checkpoint"
    step: int  # optimizer steps done
    end_step: int  # where this invocation stops: the schedule's last step, or max_steps
    total_steps: int  # the schedule's steps over every epoch
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
    micro_batch: int  # samples per forward/backward pass, as resolved
    compiled: bool


class Evaluator(Protocol):
    """Scores the model during training (`train(..., evaluator=..., eval_every=N)`).

    The caller builds it (the CLI, from `stickeval.evaluation`), so that training never depends on
    the evaluation code. It is called on every process of a torchrun job at the same steps.
    """

    def __call__(self, model: StickFigureTransformer, step: int) -> dict | None:
        """Score `model`: a plain CPU copy in eval mode with the weights `stickeval run` would load
        from the run directory now.

        Returns:
            {metric: {"mean", "ci95", "n"}} to log (rank 0); None on the other ranks.
        """
        ...


def lr_factor(step: int, total_steps: int, warmup_fraction: float, min_lr_ratio: float) -> float:
    """The lr multiplier of optimizer step `step` (0-based): linear warmup, then cosine to `min_lr_ratio`."""
    warmup = round(warmup_fraction * total_steps)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total_steps - warmup)
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass(frozen=True)
class StepResult:
    """One optimizer step's numbers, on their way to the host: `read` waits for them.

    The copy is queued on the device's stream behind the step (into pinned memory on CUDA), so
    reading step n after step n + 1 has been queued waits for step n alone, and the device never
    idles while the host logs.
    """

    names: tuple[str, ...]  # the loss terms, in the order of `values`
    values: torch.Tensor  # each term summed over the step's samples, then the gradient norm (float32, host)
    samples: int
    ready: torch.cuda.Event | None  # recorded after the copy; None off CUDA

    @classmethod
    def start_copy(cls, loss_sums: dict[str, torch.Tensor], samples: int, grad_norm: torch.Tensor) -> StepResult:
        """The numbers of a step just queued: each loss term summed over its samples, and the gradient norm before clipping."""
        values = torch.stack([*loss_sums.values(), grad_norm.to(torch.float32)])
        if values.device.type != "cuda":
            return cls(tuple(loss_sums), values, samples, None)
        host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
        host.copy_(values, non_blocking=True)
        ready = torch.cuda.Event()
        ready.record()
        return cls(tuple(loss_sums), host, samples, ready)

    def read(self) -> tuple[dict[str, float], float]:
        """(each loss term averaged over the step's samples, the gradient norm), as Python floats."""
        if self.ready is not None:
            self.ready.synchronize()
        values = self.values.tolist()
        return {k: v / self.samples for k, v in zip(self.names, values)}, values[-1]


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    micro_batches: list[dict],
    weights: dict[str, float],
    *,
    global_batch: int | None = None,
    loss: str = "original",
    scheduled_sampling: float = 0.0,
    max_grad_norm: float = 1.0,
    autocast_dtype: torch.dtype | None = None,
    loss_fn: Callable[..., dict[str, torch.Tensor]] = compute_loss,
) -> StepResult:
    """One optimizer step, as the original: zero_grad, backward per micro-batch, clip_grad_norm_, step.

    A micro-batch of c samples backpropagates total / (global_batch / c): with micro-batches of the
    recipe's batch_size that is the original's `total / grad_accum`, and any other cut of the same
    samples gives the same gradient up to float rounding. Under DDP only the last micro-batch
    synchronises gradients. Nothing here waits for the device.

    Args:
        model: the model (or its DistributedDataParallel wrapper), in training mode.
        optimizer: over the trainable parameters.
        micro_batches: `make_batch` batches, on the model's device.
        weights: the objective's weights (`Recipe.loss_weights`).
        global_batch: the samples the loss is normalised by; default the samples given (a step with
            fewer, an epoch's last, keeps the recipe's global batch as divisor).
        loss, scheduled_sampling: as `compute_loss`.
        max_grad_norm: clipping threshold.
        autocast_dtype: bf16 autocast on CUDA, None for the weights' dtype.
        loss_fn: `compute_loss`, or the same compiled (`execution.CompiledLoss`).
    """
    optimizer.zero_grad(set_to_none=True)
    samples = sum(len(batch["data"]) for batch in micro_batches)
    global_batch = global_batch or samples
    sums: dict[str, torch.Tensor] = {}
    device_type = micro_batches[0]["data"].device.type
    for i, batch in enumerate(micro_batches):
        sync = i == len(micro_batches) - 1 or not hasattr(model, "no_sync")
        n = len(batch["data"])
        with model.no_sync() if not sync else contextlib.nullcontext():
            with autocast(device_type, autocast_dtype):
                terms = loss_fn(model, batch, weights, loss=loss, scheduled_sampling=scheduled_sampling)
            (terms["total"] / (global_batch / n)).backward()
        for k, v in terms.items():
            weighted = v.detach() * n
            sums[k] = sums[k] + weighted if k in sums else weighted
    params = [p for p in model.parameters() if p.requires_grad]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
    optimizer.step()
    return StepResult.start_copy(sums, samples, grad_norm)


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
def validation_loss(model: nn.Module, data: dict, recipe: Recipe, *, batch_size: int, autocast_dtype: torch.dtype | None) -> float | None:
    """Mean `total` over the validation set (`device_split` tensors) in eval mode, in batches of
    `batch_size`; None when it is empty. Restores train mode."""
    n = len(data["motion"])
    if n == 0:
        return None
    device = data["motion"].device
    was_training = model.training
    model.eval()
    total = torch.zeros((), device=device)
    for start in range(0, n, batch_size):
        batch = make_batch(data, torch.arange(start, min(start + batch_size, n), device=device), device)
        with autocast(device.type, autocast_dtype):
            total += compute_loss(model, batch, recipe.loss_weights(), loss=recipe.objective.loss)["total"] * len(batch["data"])
    model.train(was_training)
    return float(total) / n


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
    force: bool = False,
    max_steps: int | None = None,
    merge: bool = False,
    device: str | None = None,
    dtype: str | None = None,
    zoo: str | Path | None = None,
    compile: bool | None = None,
    evaluator: Evaluator | None = None,
    eval_every: int | None = None,
    tensorboard: bool = False,
    threads: int | None = None,
    callback: Callable[[TrainEvent], None] | None = None,
) -> TrainResult:
    """Train a model by a recipe and write a directory the zoo loads.

    Args:
        recipe: the validated recipe.
        out_dir: the run directory: model.safetensors, config.json, pytorch_model.bin (or LoRA adapters),
            recipe.toml, training.json (data hash, curation, how the step ran), train_log.jsonl,
            train_state.pt, and with `tensorboard` the event files under tensorboard/.
        data_path: the .pt file (overrides `data.path`).
        resume: continue the run in `out_dir` from its train_state.pt (same recipe), bit for bit.
        force: start a new run in `out_dir` even when it holds another run (whose files are replaced,
            `output.RUN_OUTPUTS`) or other files (kept); without it, such a directory is refused
            before any work (`output.claim_run_directory`).
        max_steps: stop after this many optimizer steps in all (the schedule still spans every epoch).
        merge: with LoRA, save merged weights instead of base + adapters.
        device, dtype: as `stickeval.device`; bfloat16 on CUDA means bf16 autocast over fp32 weights.
        zoo: extra variants for `model.init_from`.
        compile: compile the training step (`execution.CompiledLoss`); default on CUDA only.
        evaluator: scores the model every `eval_every` optimizer steps; its metrics go into train_log.jsonl.
        eval_every: optimizer steps between evaluations (with `evaluator`).
        tensorboard: also write every logged number as TensorBoard events (the `tensorboard` package).
        threads: torch threads on the CPU (`device.cpu_budget`: OMP_NUM_THREADS, else all CPUs but one, so a
            second busy process on the machine does not stall every step); the same count gives the same weights.
        callback: receives a TrainEvent at the start, per logged step, epoch, evaluation and checkpoint (rank 0 only).

    Raises:
        OutputPathError: (a new run) `out_dir` is a file, not writable, or holds another run or other
            files and `force` is not given; checked first.
        RecipeError, DatasetError, TrainStateError (also: a resume with another number of torchrun processes),
        TrainingDivergedError (NaN/inf loss, gradient norm or weights; nothing non-finite is saved),
        TrainingInterrupted (Ctrl-C on one process: a checkpoint of the last completed step was saved),
        CheckpointWriteError, DistributedError (another rank failed or hung), MissingDependencyError
        (`tensorboard` without the package), and the zoo's errors for `init_from`.
    """
    out_dir = Path(out_dir)
    replace = False if resume else output.claim_run_directory(out_dir, force=force)
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
        loop = _Loop(
            recipe,
            model,
            data,
            out_dir,
            job,
            state=state,
            replace=replace,
            autocast_dtype=autocast_dtype,
            compile=dev.type == "cuda" if compile is None else compile,
            writer=output.RunWriter(out_dir, recipe, enabled=job.rank.is_main, tensorboard=tensorboard),
            evaluator=evaluator if eval_every else None,
            eval_every=eval_every if evaluator is not None else None,
            callback=callback if job.rank.is_main else None,
        )
        with torch_threads(cpu_budget(threads)) if dev.type == "cpu" else contextlib.nullcontext():
            return loop.run(max_steps=max_steps, merge=merge)


@dataclass(frozen=True)
class _PendingLog:
    """A step to log once its numbers reach the host, with what the log says of it."""

    result: StepResult
    step: int
    epoch: int
    lr: float
    samples: int  # trained since the previous logged step, all processes


class _Loop:
    """One run's optimizer, schedule, data and position (epoch, batches of it consumed, steps),
    and the loop over them: `run` calls one method per step of the loop."""

    def __init__(
        self,
        recipe: Recipe,
        model: StickFigureTransformer,
        data: TrainingData,
        out_dir: Path,
        job: Group,
        *,
        state: TrainState | None,
        replace: bool,
        autocast_dtype: torch.dtype | None,
        compile: bool,
        writer: output.RunWriter,
        evaluator: Evaluator | None,
        eval_every: int | None,
        callback: Callable[[TrainEvent], None] | None,
    ):
        from torch.utils.data import DistributedSampler

        rank, s, o = job.rank, recipe.schedule, recipe.optimizer
        self.recipe, self.model, self.data, self.out_dir, self.job = recipe, model, data, out_dir, job
        self.device = next(model.parameters()).device
        if fusable(self.device):  # the SwiGLU's activation and dropout in one pass each way
            fuse_swiglu(model)
        self.autocast_dtype, self.compiled, self.writer, self.callback = autocast_dtype, compile, writer, callback
        self.evaluator, self.eval_every = evaluator, eval_every
        self.sampler = DistributedSampler(
            range(data.n_train), num_replicas=rank.world_size, rank=rank.rank, shuffle=True, seed=recipe.run.seed, drop_last=True
        )
        self.n_batches = len(self.sampler) // s.batch_size
        if self.n_batches == 0:
            raise TrainStateError(
                f"{data.n_train} training samples make no batch of {s.batch_size} per process on {rank.world_size} process(es). "
                "Lower schedule.batch_size, or add data."
            )
        self.steps_per_epoch = math.ceil(self.n_batches / s.grad_accum)
        self.total_steps = self.steps_per_epoch * s.epochs
        self.global_batch = s.batch_size * s.grad_accum  # per process
        trainable = [p for p in model.parameters() if p.requires_grad]
        fused = True if self.device.type == "cuda" else None  # one kernel for the whole AdamW update
        self.optimizer = torch.optim.AdamW(trainable, lr=o.lr, betas=tuple(o.betas), eps=o.eps, weight_decay=o.weight_decay, fused=fused)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, self.total_steps, s.warmup_fraction, s.min_lr_ratio)
        )
        self.step, self.epoch, self.position = 0, 0, 0
        self.saved_step: int | None = None  # the step of the checkpoint on disk, the last good one
        if state is not None:
            model.load_state_dict(state.model)
            self.optimizer.load_state_dict(state.optimizer)
            self.scheduler.load_state_dict(state.scheduler)
            self.step, self.epoch, self.position = state.step, state.epoch, state.position
            self.saved_step = state.step
        self.train_data, self.val_data = device_split(data.train, self.device), device_split(data.val, self.device)
        found = state.micro_batch if state is not None else None  # "auto" is probed once per run
        self.micro_batch = found or int(job.all_reduce([resolve_micro_batch(model, self.train_data, recipe, autocast_dtype)], op="min")[0])
        self.loss_fn = CompiledLoss(self.micro_batch) if compile else compute_loss
        self.ddp: nn.Module = model
        if rank.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.flops_per_sample = training_flops_per_sample(
            model.config, recipe.data.n_frames, self_fed=recipe.objective.scheduled_sampling > 0
        )
        peak = measured_peak_tflops(self.device, autocast_dtype)
        self.peak_tflops = peak * rank.world_size if peak else None
        self.last_loss: float | None = None
        self.val_losses: list[float | None] = []
        self.lr = self.optimizer.param_groups[0]["lr"]  # of the step being taken
        self.end_step = self.total_steps
        self.window_start, self.window_samples = time.perf_counter(), 0  # since the last logged step
        self.pending: _PendingLog | None = None  # a logged step whose numbers are still on their way
        self.stop = StopRequest(enabled=not rank.distributed)
        writer.start(data, resumed_at=self.step if state is not None else None, replace=replace)
        if state is not None:
            restore_rng(state.rng)  # last: building the model and adapters drew from the RNG

    def run(self, *, max_steps: int | None, merge: bool) -> TrainResult:
        """Train until the last epoch ends or `max_steps`, checkpoint, write the model; on Ctrl-C,
        checkpoint the last completed step and raise TrainingInterrupted."""
        self.end_step = self.total_steps if max_steps is None else min(max_steps, self.total_steps)
        self._emit("start", self._start_values())
        self.model.train()
        self.window_start = time.perf_counter()
        try:
            with self.stop:
                while self._steps_left() and not self.stop.requested:
                    self._run_epoch()
                self._checkpoint()
                if self._steps_left():  # stopped by Ctrl-C
                    raise TrainingInterrupted(self.step, self.end_step, str(self.out_dir))
                self._finish(merge)
        finally:
            self.writer.close()
        d = self.data
        return TrainResult(
            self.out_dir,
            self.step,
            self.total_steps,
            d.n_train,
            d.n_val,
            self.last_loss,
            self.val_losses,
            d.curation.to_dict(),
            self.micro_batch,
            self.compiled,
        )

    def _steps_left(self) -> bool:
        return self.epoch < self.recipe.schedule.epochs and self.step < self.end_step

    def _start_values(self) -> dict:
        world = self.job.rank.world_size
        return {
            "n_train": self.data.n_train,
            "n_val": self.data.n_val,
            "steps_per_epoch": self.steps_per_epoch,
            "global_batch": self.global_batch * world,
            "micro_batch": self.micro_batch,
            "compiled": self.compiled,
            "device": device_name(self.device),
            "processes": world,
            "flops_per_sample": self.flops_per_sample,
            "peak_tflops": self.peak_tflops,
        }

    def _run_epoch(self) -> None:
        """The rest of the current epoch's steps (all of them unless resumed mid-epoch or stopped).

        A logged step's numbers are read once the next step is queued on the device (or before
        anything that needs them: an evaluation, a checkpoint, the epoch's end), so the device never
        waits for the host to log.
        """
        r = self.recipe.run
        self.sampler.set_epoch(self.epoch)
        order = torch.tensor(list(self.sampler), device=self.device)  # the epoch's sample order, copied once
        while self.position < self.n_batches and self.step < self.end_step and not self.stop.requested:
            result = self._optimizer_step(order)
            self._log_pending()
            if self.step % r.log_every == 0 or self.step == self.end_step or self.position >= self.n_batches:
                self.pending = _PendingLog(result, self.step, self.epoch, self.lr, self.window_samples)
                self.window_samples = 0
            evaluate = self.eval_every and self.step % self.eval_every == 0 and not self.stop.requested
            save = r.save_every and self.step % r.save_every == 0 and self.step < self.end_step
            if evaluate or save:
                self._log_pending()
            if evaluate:
                self._evaluate()
            if save:
                self._checkpoint()
        self._log_pending()
        if self.position >= self.n_batches:
            self._end_epoch()

    def _optimizer_step(self, order: torch.Tensor) -> StepResult:
        """The next `grad_accum` batches (fewer at an epoch's end) in micro-batches: one optimizer step."""
        s, objective = self.recipe.schedule, self.recipe.objective
        accumulated = min(s.grad_accum, self.n_batches - self.position)
        rows = order[self.position * s.batch_size : (self.position + accumulated) * s.batch_size]
        batches = [make_batch(self.train_data, chunk, self.device) for chunk in rows.split(self.micro_batch)]
        if objective.input_noise:  # drawn from the saved RNG streams: a resume stays bit-identical
            for batch in batches:
                batch["data"] = batch["data"] + objective.input_noise * torch.randn_like(batch["data"])
        self.lr = self.optimizer.param_groups[0]["lr"]
        with training_kernels(self.device.type):
            result = train_step(
                self.ddp,
                self.optimizer,
                batches,
                self.recipe.loss_weights(),
                global_batch=self.global_batch,
                loss=objective.loss,
                scheduled_sampling=objective.scheduled_sampling,
                max_grad_norm=self.recipe.optimizer.max_grad_norm,
                autocast_dtype=self.autocast_dtype,
                loss_fn=self.loss_fn,
            )
        self.scheduler.step()
        self.position += accumulated
        self.step += 1
        self.window_samples += len(rows) * self.job.rank.world_size
        return result

    def _log_pending(self) -> None:
        """Read the pending logged step's numbers (waiting for that step on the device), add the speed
        since the previous logged step, log them; nothing when no step is pending.

        Raises:
            TrainingDivergedError: the loss or the gradient norm is NaN or inf (nothing is logged or saved).
        """
        if self.pending is None:
            return
        logged, self.pending = self.pending, None
        losses, grad_norm = logged.result.read()
        losses = _all_mean(self.job, losses)
        if not (math.isfinite(losses["total"]) and math.isfinite(grad_norm)):
            raise self._diverged(f"loss {losses['total']:.4g}, gradient norm {grad_norm:.4g}", step=logged.step)
        now = time.perf_counter()
        remaining = (self.end_step - logged.step) * self.global_batch * self.job.rank.world_size
        values = {
            "lr": logged.lr,
            "loss": losses["total"],
            **{k: v for k, v in losses.items() if k != "total"},
            "grad_norm": grad_norm,
            **step_rates(logged.samples, now - self.window_start, self.flops_per_sample, self.peak_tflops, remaining),
        }
        self.writer.log({"step": logged.step, "epoch": logged.epoch, **values})
        self._emit("step", values, step=logged.step, epoch=logged.epoch)
        self.last_loss = losses["total"]
        self.window_start = now

    def _end_epoch(self) -> None:
        val = validation_loss(self.model, self.val_data, self.recipe, batch_size=self.micro_batch, autocast_dtype=self.autocast_dtype)
        self.val_losses.append(val)
        self.writer.log({"step": self.step, "epoch": self.epoch, "val_loss": val})
        self._emit("epoch", {"val_loss": val})
        self.epoch, self.position = self.epoch + 1, 0

    def _evaluate(self) -> None:
        """Score an inference copy of the model; the random states and the speed window are left as they were.
        Ctrl-C stops an evaluation at once (it changes nothing a checkpoint holds): the run then stops at this step."""
        started, rng = time.perf_counter(), capture_rng()
        try:
            with self.stop.interruptible():
                metrics = self.evaluator(inference_copy(self.model, self.recipe), self.step)
        except KeyboardInterrupt:
            if not self.stop.requested:
                raise
            metrics = None
        finally:
            restore_rng(rng)
        if metrics is not None:
            self.writer.log({"step": self.step, "epoch": self.epoch, "eval": metrics})
            self._emit("eval", metrics)
        self.window_start += time.perf_counter() - started

    def _checkpoint(self) -> None:
        """Save the resumable state (rank 0), once every rank has checked that the weights are finite.

        Raises:
            TrainingDivergedError: a weight is NaN or inf; nothing is saved.
        """
        non_finite = non_finite_keys(self.model.state_dict())
        if non_finite:
            shown = ", ".join(non_finite[:3]) + (", ..." if len(non_finite) > 3 else "")
            raise self._diverged(f"{len(non_finite)} weight tensor(s) hold NaN or inf ({shown})")
        if self.job.rank.is_main:
            state = TrainState(
                self.model.state_dict(),
                self.optimizer.state_dict(),
                self.scheduler.state_dict(),
                self.step,
                self.epoch,
                self.position,
                capture_rng(),
                self.recipe.to_dict(),
                self.job.rank.world_size,
                self.micro_batch,
            )
            save_state(state, self.out_dir)
            self._emit("checkpoint", {"path": str(self.out_dir)})
        self.saved_step = self.step

    def _diverged(self, what: str, step: int | None = None) -> TrainingDivergedError:
        """The error that stops a run whose numbers became NaN or inf by `step` (default: the last step
        taken), saying which checkpoint is left."""
        if self.saved_step is None:
            kept = f"{self.out_dir} has no checkpoint yet (run.save_every = {self.recipe.run.save_every})"
        else:
            kept = f"{self.out_dir / STATE_FILE} still holds step {self.saved_step}"
        return TrainingDivergedError(
            f"Training diverged by step {self.step if step is None else step}: {what}. Nothing was saved from it: {kept}. Lower optimizer.lr "
            f"(now {self.recipe.optimizer.lr:g}) or optimizer.max_grad_norm, then train again with another -o or --force."
        )

    def _finish(self, merge: bool) -> None:
        """Rank 0 writes the model and training.json; then every rank leaves together."""
        if self.job.rank.is_main:
            execution = {k: v for k, v in self._start_values().items() if k not in ("n_train", "n_val", "steps_per_epoch")}
            self.writer.finish(self.model, self.data, steps=self.step, total_steps=self.total_steps, merge=merge, execution=execution)
        if self.job.rank.distributed:
            # Release DDP (its reducer holds the group's gloo work) while the group lives, and leave the group
            # together once rank 0 has written the model: without this a rank intermittently aborted at exit
            # ("terminate called without an active exception"; 3 of about 10 two-process test runs, 0 of 16 after).
            self.ddp = self.model
            gc.collect()
            self.job.barrier("saving the model")

    def _emit(self, kind: str, values: dict, *, step: int | None = None, epoch: int | None = None) -> None:
        """Report to the callback, for the last step taken unless `step` and `epoch` say which."""
        if self.callback is not None:
            step, epoch = self.step if step is None else step, self.epoch if epoch is None else epoch
            self.callback(TrainEvent(kind, step, self.end_step, self.total_steps, epoch, values))
