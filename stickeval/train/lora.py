"""LoRA adapters as a parametrization of each targeted Linear's weight.

The original (`src/model/lora.py`) and peft's LoRA layers wrap a Linear's `forward`:
y = W x + b + (alpha/r) B A drop(x); the model calls such a wrapper like any module. Here the
adapter is instead a `torch.nn.utils.parametrize` parametrization of the weight itself:

    layer.weight  ==  W + (alpha / r) · B · drop(A)

so an adapted layer stays an nn.Linear (the model keeps running q/k/v and SwiGLU gate/value as one
matmul) and, on the same A, B, rank and alpha, its outputs and gradients are peft's. Only dropout
differs (when `dropout > 0`, in training): it acts on A's entries rather than on the input, as the
adapter lives in weight space. A is Kaiming-uniform (a = √5) [r, in], B zeros [out, r], as the
original, so a fresh adapter leaves the model unchanged; both take the dtype and device of the
weight they adapt.

Saved adapters use the keys the zoo merges (`<name>.weight`, `<name>.lora_A`, `<name>.lora_B`, with
`lora_config` in config.json), so `stickeval run` on the directory loads base + adapters merged.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn.utils import parametrize


class LoRA(nn.Module):
    """The adapter of one weight: W -> W + (alpha / r) B drop(A)."""

    def __init__(self, out_features: int, in_features: int, *, rank: int, alpha: float, dropout: float):
        super().__init__()
        self.scale = alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, in_features))
        self.lora_B = nn.Parameter(torch.zeros(out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        delta = self.lora_B @ self.dropout(self.lora_A)
        return weight + self.scale * delta.to(weight.dtype)


def target_names(model: nn.Module, patterns: list[str]) -> list[str]:
    """Qualified names of the Linear layers matched by any pattern (`re.search`, as the original)."""
    compiled = [re.compile(p) for p in patterns]
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and any(p.search(name) for p in compiled)]


def add_adapters(model: nn.Module, *, rank: int, alpha: float, dropout: float, target_modules: list[str]) -> list[str]:
    """Parametrize every targeted Linear's weight with a LoRA adapter and freeze everything else.

    As the original's `freeze_base_model`, only the adapters train (embeddings, norms and heads too
    stay frozen). Returns the adapted layers' names.

    Raises:
        ValueError: no Linear matches `target_modules` (the caller words the recipe error).
    """
    names = target_names(model, target_modules)
    if not names:
        raise ValueError(f"no Linear layer matches {target_modules}")
    model.requires_grad_(False)
    for name in names:
        layer = model.get_submodule(name)
        adapter = LoRA(layer.out_features, layer.in_features, rank=rank, alpha=alpha, dropout=dropout)
        parametrize.register_parametrization(layer, "weight", adapter.to(device=layer.weight.device, dtype=layer.weight.dtype))
    return names


def adapters(model: nn.Module) -> dict[str, LoRA]:
    """{layer name: its adapter} of a model with adapters."""
    return {
        name: m.parametrizations.weight[0]
        for name, m in model.named_modules()
        if parametrize.is_parametrized(m, "weight") and isinstance(m.parametrizations.weight[0], LoRA)
    }


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The base weights and the adapters under the zoo's keys: `<name>.weight` (W, unadapted), `<name>.lora_A`, `<name>.lora_B`."""
    out = {}
    for key, value in model.state_dict().items():
        if ".parametrizations.weight.original" in key:
            out[key.replace(".parametrizations.weight.original", ".weight")] = value
        elif ".parametrizations.weight.0." in key:
            out[key.replace(".parametrizations.weight.0.", ".")] = value
        else:
            out[key] = value
    return out


def merge_adapters(model: nn.Module) -> nn.Module:
    """Fold every adapter into its weight in place (W += (alpha/r) B A) and remove the parametrizations."""
    for name, adapter in adapters(model).items():
        adapter.eval()  # no dropout in the merged matrix
        parametrize.remove_parametrizations(model.get_submodule(name), "weight", leave_parametrized=True)
    return model
