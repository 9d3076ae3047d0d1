"""LoRA adapters saved by the `peft` library, read without it.

`PeftModel.save_pretrained(directory)` writes `adapter_config.json` (rank `r`, `lora_alpha`, the
base model's name in `base_model_name_or_path`) and `adapter_model.safetensors` (or `.bin`) with keys
`base_model.model.<module>.lora_A.weight` [r, in] and `...lora_B.weight` [out, r]. This module
maps them onto the zoo's adapter keys (`<module>.lora_A`, `<module>.lora_B`), which `merge_lora`
folds into the base: W += (alpha / r) B A, the same update as peft's `merge_and_unload`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from stickeval.errors import CheckpointError

PEFT_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")  # what save_pretrained writes, by preference
PEFT_CONFIG_FILE = "adapter_config.json"
_PREFIX = "base_model.model."  # PeftModel.base_model (LoraModel).model: the wrapped model's module names follow
_SUFFIXES = {".lora_A.weight": ".lora_A", ".lora_B.weight": ".lora_B"}
# adapter_config.json settings that change what the adapters compute beyond W + (alpha / r) B A
_UNMERGEABLE = ("use_dora", "rank_pattern", "alpha_pattern", "layer_replication", "modules_to_save", "lora_bias", "use_qalora")


@dataclass(frozen=True)
class PeftAdapterConfig:
    """What stickeval uses of an `adapter_config.json`."""

    rank: int  # `r`
    alpha: float  # for W += (alpha / rank) B A; rsLoRA's scale alpha / sqrt(r) is folded in
    base: str | None  # `base_model_name_or_path`: a zoo name, checkpoint path or repo id (None when peft had none)


def is_peft_weights(path: Path) -> bool:
    """Whether `path` is the weights file of a peft adapter directory."""
    return path.name in PEFT_WEIGHT_FILES


def read_peft_config(directory: str | Path) -> PeftAdapterConfig:
    """Read and check `adapter_config.json` in a peft adapter directory.

    Raises:
        CheckpointError: the file is missing or not a JSON object, the adapters are not LoRA, their
            rank or alpha is missing, or a setting makes them something a weight merge cannot express.
    """
    path = Path(directory) / PEFT_CONFIG_FILE
    fix = "Save the adapters with peft's save_pretrained, or merge them (merge_and_unload) and save the model with save_checkpoint."
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is missing or not valid JSON ({type(e).__name__}). {fix}", path=str(path)) from e
    if not isinstance(document, dict):
        raise CheckpointError(f"{path} holds a JSON {type(document).__name__}, not an object. {fix}", path=str(path))
    if document.get("peft_type") != "LORA":
        raise CheckpointError(
            f"{path} describes {document.get('peft_type')} adapters; stickeval merges LoRA adapters only. {fix}", path=str(path)
        )
    unmergeable = [key for key in _UNMERGEABLE if document.get(key)]
    if unmergeable:
        raise CheckpointError(f"{path} sets {', '.join(unmergeable)}, which a LoRA weight merge cannot express. {fix}", path=str(path))
    rank, alpha = document.get("r"), document.get("lora_alpha")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1 or isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise CheckpointError(
            f"{path} needs a positive integer `r` and a number `lora_alpha` (got {rank!r}, {alpha!r}). {fix}", path=str(path)
        )
    if document.get("use_rslora"):  # scale alpha / sqrt(r) = (alpha * sqrt(r)) / r
        alpha = alpha * math.sqrt(rank)
    base = document.get("base_model_name_or_path")
    return PeftAdapterConfig(rank=rank, alpha=float(alpha), base=base if isinstance(base, str) and base else None)


def from_peft_keys(state_dict: dict[str, torch.Tensor], path: Path) -> dict[str, torch.Tensor]:
    """The adapters under the zoo's keys: `base_model.model.<module>.lora_A.weight` -> `<module>.lora_A` (and B).

    Raises:
        CheckpointError: a tensor that is not a LoRA A or B matrix of a Linear (an embedding adapter,
            a trained bias, a DoRA magnitude...), which the merge would otherwise drop.
    """
    out = {}
    for key, value in state_dict.items():
        suffix = next((s for s in _SUFFIXES if key.endswith(s)), None)
        if not key.startswith(_PREFIX) or suffix is None:
            raise CheckpointError(
                f"{path} holds {key}, which is not a LoRA matrix of a Linear layer (base_model.model.<module>.lora_A/B.weight). "
                "Merge the adapters with peft's merge_and_unload and save the model with save_checkpoint.",
                path=str(path),
            )
        out[key[len(_PREFIX) : -len(suffix)] + _SUFFIXES[suffix]] = value
    return out
