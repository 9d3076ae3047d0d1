"""How the training step runs on the device: the data there once, the micro-batch, a compiled step.

None of this changes what is computed, only how fast: the global batch (`batch_size x grad_accum`)
and its loss normalisation come from the recipe, and `schedule.micro_batch` only cuts it into
forward/backward passes (the same gradient up to float rounding).
"""

from __future__ import annotations

import contextlib

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from stickeval.errors import TrainStateError
from stickeval.train.objective import compute_loss, gravity_scales, make_batch, self_fed_inputs
from stickeval.train.recipe import Recipe
from stickeval.zoo.model import StickFigureTransformer

# Of the GPU's memory, what the step found by "auto" may use; the rest is left for the allocator's
# fragmentation and the other processes of the card.
MEMORY_SHARE = 0.9


# The attention kernels a training step may use on CUDA, cuDNN's left out: at sft-large's head size
# of 32, with the recipe's attention dropout, flash attention's forward and backward are the faster
# (the compiled step on an H100: 31.2% of the bf16 peak, against 30.3% on cuDNN's kernels,
# docs/benchmarks.md). Memory-efficient attention and the math kernel take what flash cannot (fp32).
TRAINING_ATTENTION = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def training_kernels(device_type: str) -> contextlib.AbstractContextManager:
    """On CUDA, `TRAINING_ATTENTION` for the attention of what runs inside; nothing elsewhere.

    A compiled step takes its kernels when it is traced (inductor's cache does not key on this
    choice), so the trainer holds the context around every step, the memory probe's included."""
    return sdpa_kernel(TRAINING_ATTENTION) if device_type == "cuda" else contextlib.nullcontext()


def autocast(device_type: str, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """`torch.autocast` to `dtype` (bf16 on CUDA), or nothing when `dtype` is None (fp32)."""
    return torch.autocast(device_type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def device_split(split: dict, device: torch.device) -> dict:
    """A split's tensors copied to the device once, with each sample's gravity scale in place of its
    environment name: a batch is then an index into device memory (`make_batch` copies nothing from
    the host and never waits for the device)."""
    out = {key: split[key].to(device) for key in ("motion", "embedding", "actions", "physics")}
    out["gravity_scale"] = gravity_scales(split["environment_types"]).to(device)
    return out


def resolve_micro_batch(model: StickFigureTransformer, train: dict, recipe: Recipe, autocast_dtype: torch.dtype | None) -> int:
    """Samples per forward/backward pass: `schedule.micro_batch` when it is a number; for "auto", the
    recipe's `batch_size` off CUDA, and on CUDA the largest divisor of the global batch whose step
    (forward and backward of that many training samples) fits in `MEMORY_SHARE` of the GPU's memory
    with the optimizer state beside it.

    A divisor gives every micro-batch of a full step one shape (one compiled graph). Probing leaves
    the model's weights, gradients and every random state as they were.

    Args:
        model: the model on its device, in training mode (dropout as in training).
        train: the training split as `device_split` returns it.
        recipe: its schedule and objective.
        autocast_dtype: as the step runs.

    Raises:
        TrainStateError: not even one sample fits.
    """
    s = recipe.schedule
    if s.micro_batch != "auto":
        return int(s.micro_batch)
    device = train["motion"].device
    if device.type != "cuda":
        return s.batch_size
    global_batch = s.batch_size * s.grad_accum
    optimizer_bytes = 2 * sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)  # AdamW's two moments
    budget = MEMORY_SHARE * torch.cuda.get_device_properties(device).total_memory - optimizer_bytes
    for size in (d for d in range(global_batch, 0, -1) if global_batch % d == 0):
        torch.cuda.reset_peak_memory_stats(device)
        try:
            _forward_backward(model, train, recipe, size, autocast_dtype)
            fits = torch.cuda.max_memory_allocated(device) <= budget
        except torch.cuda.OutOfMemoryError:
            fits = False
        model.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        if fits:
            return size
    raise TrainStateError(
        f"Not one training sample of {recipe.data.n_frames} frames fits in the GPU's memory with this model. "
        "Lower data.n_frames, train a smaller model, or use --device cpu."
    )


def _forward_backward(model: StickFigureTransformer, train: dict, recipe: Recipe, size: int, autocast_dtype: torch.dtype | None) -> None:
    """One training forward and backward of `size` samples (repeated when the split has fewer), RNG untouched."""
    device = train["motion"].device
    with torch.random.fork_rng(devices=[device]):
        batch = make_batch(train, torch.arange(size, device=device) % len(train["motion"]), device)
        with training_kernels(device.type), autocast(device.type, autocast_dtype):
            terms = compute_loss(
                model, batch, recipe.loss_weights(), loss=recipe.objective.loss, scheduled_sampling=recipe.objective.scheduled_sampling
            )
        terms["total"].backward()
    torch.cuda.synchronize(device)


class CompiledLoss:
    """`compute_loss` compiled with `torch.compile` as one graph (model forward, heads and every loss
    term, static shapes), for micro-batches of the run's size; its backward is compiled as one graph
    too.

    One graph for the whole step, not one per layer as the generation engine compiles: eager, the
    embeddings, heads and loss terms are many small kernels that leave the GPU waiting for the host
    (sft-large's step on an H100: 26% of the bf16 peak compiled whole, 22% per layer,
    docs/benchmarks.md). A micro-batch of another size (an epoch's partial last step) runs eagerly
    instead of compiling a second graph for one step in an epoch. Validation runs eagerly as well:
    a forward pass over a tenth of the data. So does scheduled sampling's pass that feeds the model
    its own predictions, so that its choice of frames draws from torch's generator exactly as without
    compilation (only dropout inside the graph draws differently). The model's state_dict keys do
    not change, so checkpoints are the same either way.
    """

    def __init__(self, micro_batch: int):
        self.micro_batch = micro_batch
        self._compiled = torch.compile(compute_loss, dynamic=False)

    def __call__(
        self, model: torch.nn.Module, batch: dict, weights: dict, *, loss: str = "original", scheduled_sampling: float = 0.0
    ) -> dict[str, torch.Tensor]:
        """`compute_loss(model, batch, weights, loss=..., scheduled_sampling=...)`, compiled when the batch has `micro_batch` samples."""
        if len(batch["data"]) != self.micro_batch:
            return compute_loss(model, batch, weights, loss=loss, scheduled_sampling=scheduled_sampling)
        if scheduled_sampling:
            batch = {**batch, "data": self_fed_inputs(model, batch, scheduled_sampling)}
        return self._compiled(model, batch, weights, loss=loss)


def inference_copy(model: StickFigureTransformer, recipe: Recipe) -> StickFigureTransformer:
    """A plain CPU copy of the model in eval mode, with the weights `stickeval run` loads from the run
    directory: LoRA adapters merged by the zoo's own `merge_lora`, nothing compiled.

    Building the copy draws from torch's RNG (the module's initialisation): callers that must not
    disturb training save and restore the random states around it.
    """
    from stickeval.train.lora import adapter_state_dict, adapters
    from stickeval.zoo.checkpoint import merge_lora

    state = {key: value.detach().to("cpu", copy=True) for key, value in adapter_state_dict(model).items()}
    if adapters(model):
        state = merge_lora(state, alpha=recipe.lora.alpha, rank=recipe.lora.rank)
    copy = StickFigureTransformer(model.config)
    copy.load_state_dict(state)
    return copy.eval()


def measured_peak_tflops(device: torch.device, dtype: torch.dtype | None) -> float | None:
    """The device's measured matmul peak in `dtype` (fp32 when None), RNG untouched; None off CUDA."""
    if device.type != "cuda":
        return None
    from stickeval.throughput import measure_peak_tflops

    with torch.random.fork_rng(devices=[device]):
        return measure_peak_tflops(device, dtype or torch.float32)
