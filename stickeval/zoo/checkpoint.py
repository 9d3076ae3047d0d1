"""Checkpoint formats: read any Stick-Gen weights file into a model, write the stickeval format.

Stick-Gen weights reach users in several shapes (the original trainers and upload scripts): a bare state_dict, a full
training dict holding `model_state_dict`, safetensors with or without `config.json`, and
LoRA-wrapped keys. None of the original files stores the architecture, so every hyperparameter is
read back from tensor shapes. Pickles are always opened with `weights_only=True`.
"""

from __future__ import annotations

import json
import logging
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file as load_safetensors
from safetensors.torch import save_file as save_safetensors

from stickeval._io import atomic_path, write_text_atomic
from stickeval.data.schema import SCHEMAS
from stickeval.errors import CheckpointError, StateDictMismatchError, first_line
from stickeval.zoo.model import ModelConfig, StickFigureTransformer
from stickeval.zoo.peft_adapters import PEFT_WEIGHT_FILES, from_peft_keys, is_peft_weights, read_peft_config

log = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # preference order inside a directory
CONFIG_FILE = "config.json"
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # added by DistributedDataParallel and torch.compile
_IMAGE_PREFIXES = ("image_encoder.", "fusion_module.")  # optional image conditioning (original HEAD)
_LAYER_KEY = re.compile(r"^transformer_encoder\.layers\.(\d+)\.")


@dataclass
class RawCheckpoint:
    """A state_dict as read from disk, with what was learned about its container."""

    path: Path
    format: str  # "safetensors", "state_dict", "training_dict" or "peft" (a peft adapter directory, keys mapped to the zoo's)
    state_dict: dict[str, torch.Tensor]
    config_json: dict | None = None  # config.json beside the weights, when present
    lora_config: dict | None = None  # `lora_config` of a training dict, or rank and alpha of a peft adapter_config.json
    extra_keys: list[str] = field(default_factory=list)  # other keys of a training dict (optimizer, epoch...)

    @property
    def lora_keys(self) -> list[str]:
        return [k for k in self.state_dict if ".lora_A" in k or ".lora_B" in k]

    @property
    def image_keys(self) -> list[str]:
        return [k for k in self.state_dict if k.startswith(_IMAGE_PREFIXES)]


def resolve_weights_file(path: str | Path) -> Path:
    """A weights file itself, or the preferred weights file inside a directory (a peft adapter directory's last)."""
    path = Path(path)
    if path.is_dir():
        for name in (*WEIGHT_FILES, *PEFT_WEIGHT_FILES):
            if (path / name).is_file():
                return path / name
        raise CheckpointError(
            f"{path} holds no weights file (looked for {', '.join((*WEIGHT_FILES, *PEFT_WEIGHT_FILES))}).", path=str(path)
        )
    if not path.exists():
        raise CheckpointError(f"{path} does not exist. Pass a weights file or a checkpoint directory.", path=str(path))
    return path


def read_checkpoint(path: str | Path) -> RawCheckpoint:
    """Read a weights file (or directory) without building a model.

    Raises:
        CheckpointError: the file is missing, truncated, not a checkpoint, or a pickle that would
            run code (refused, never executed); the config.json beside it is not a JSON object; a peft
            adapter file whose adapter_config.json is missing or asks for more than a LoRA weight merge.
    """
    path = resolve_weights_file(path)
    if path.suffix == ".safetensors":
        try:
            state_dict, fmt = load_safetensors(str(path)), "safetensors"
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(
                f"{path} is not a readable safetensors file, or it is truncated ({first_line(e)}). Re-download or re-save it.",
                path=str(path),
            ) from e
        obj: object = state_dict
    else:
        obj = _torch_load(path)
        fmt = "state_dict"
    extra, lora_config = [], None
    if isinstance(obj, dict) and "model_state_dict" in obj:
        fmt = "training_dict"
        extra = sorted(k for k in obj if k != "model_state_dict")
        lora_config = obj.get("lora_config") if isinstance(obj.get("lora_config"), dict) else None
        obj = obj["model_state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(
            f"{path} holds no state_dict (expected a dict of tensors, or a training dict with `model_state_dict`). "
            "Save the weights with save_checkpoint, or torch.save(model.state_dict(), path).",
            path=str(path),
        )
    if is_peft_weights(path):
        peft = read_peft_config(path.parent)
        return RawCheckpoint(path, "peft", from_peft_keys(obj, path), None, {"rank": peft.rank, "alpha": peft.alpha})
    return RawCheckpoint(path, fmt, _strip_wrappers(obj), read_config_json(path.parent), lora_config, extra)


def read_config_json(directory: str | Path) -> dict | None:
    """The `config.json` of a checkpoint directory (architecture extras, schema, encoder, lora_config), or None.

    Raises:
        CheckpointError: the file exists but is unreadable, not JSON, or not a JSON object.
    """
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        return None
    fix = "Re-save the checkpoint with save_checkpoint or fix the file."
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({first_line(e)}). {fix}", path=str(path)) from e
    if not isinstance(document, dict):
        raise CheckpointError(f"{path} holds a JSON {type(document).__name__}, not an object. {fix}", path=str(path))
    return document


def schema_name(input_dim: int) -> str | None:
    """The motion schema ("v1", "v3") of a model taking `input_dim` numbers per frame; None for other widths."""
    schema = SCHEMAS.get(input_dim)
    return schema.name if schema else None


def _torch_load(path: Path) -> object:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch's unpickler raises many types on foreign bytes; all mean "unreadable"
        if isinstance(e, pickle.UnpicklingError) and "GLOBAL" in str(e):  # a class or function reference
            raise CheckpointError(
                f"{path} was refused: it is a pickle that needs arbitrary code to load (weights_only=True). "
                "stickeval never runs code from checkpoint files; re-save it as a plain state_dict or safetensors.",
                path=str(path),
            ) from e
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint, or it is truncated ({type(e).__name__}: {_load_detail(e)}). "
            "Re-download or re-save it.",
            path=str(path),
        ) from e


def _load_detail(e: Exception) -> str:
    """What torch.load found wrong, without the advice to retry with weights_only=False that torch opens with."""
    text = str(e)
    if "WeightsUnpickler error:" in text:
        return first_line(Exception(text.split("WeightsUnpickler error:", 1)[1]))
    return first_line(e)


def _strip_wrappers(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state_dict.items():
        while key.startswith(_WRAPPER_PREFIXES):
            key = key.split(".", 1)[1]
        out[key] = value
    return out


def merge_lora(state_dict: dict[str, torch.Tensor], *, alpha: float | None, rank: int | None = None) -> dict[str, torch.Tensor]:
    """Fold LoRA adapters into plain weights: W += (alpha / r) · B · A.

    Accepts wrapped keys (`x.base_layer.weight`, `x.lora_A`, `x.lora_B`) and adapter keys laid over a
    plain base (`x.weight`, `x.lora_A`, `x.lora_B`). r is read from `lora_A`'s shape.

    Raises:
        CheckpointError: adapters are present but `alpha` is unknown, a layer has only one of its two
            matrices or no base weight, or `rank` disagrees with the shapes.
    """
    names = sorted({k.rsplit(".lora_", 1)[0] for k in state_dict if ".lora_A" in k or ".lora_B" in k})
    if not names:
        return dict(state_dict)
    if alpha is None:
        raise CheckpointError(
            f"The checkpoint has LoRA adapters on {len(names)} layers but no lora_config with alpha. "
            "Give the adapters' alpha (and rank): `lora_alpha = 32` (and `lora_rank = 16`) in a --zoo entry for it, "
            "or lora_alpha= in load_checkpoint."
        )
    out = {k: v for k, v in state_dict.items() if ".lora_" not in k}
    for name in names:
        a, b = state_dict.get(f"{name}.lora_A"), state_dict.get(f"{name}.lora_B")
        if a is None or b is None:
            present, absent = ("lora_A", "lora_B") if b is None else ("lora_B", "lora_A")
            raise CheckpointError(
                f"LoRA layer {name} has {present} but no {absent}: the adapter file is incomplete. "
                "Re-export the adapters with both matrices for every adapted layer."
            )
        r = a.shape[0]
        if rank is not None and rank != r:
            raise CheckpointError(
                f"LoRA rank {rank} was given but {name}.lora_A has rank {r}. Fix or remove lora_rank: the rank is read from the shapes."
            )
        for suffix in ("weight", "bias"):
            wrapped = out.pop(f"{name}.base_layer.{suffix}", None)
            if wrapped is not None:
                out[f"{name}.{suffix}"] = wrapped
        if f"{name}.weight" not in out:
            raise CheckpointError(
                f"LoRA adapters for {name} have no base weight ({name}.weight) to merge into. Pass the base checkpoint "
                'they were trained on: `base = "<variant>"` in a --zoo entry, or load_checkpoint(path, base=...).'
            )
        w = out[f"{name}.weight"]
        # at least fp32: an fp16 base (the shipped nano) would round the merged adapter update away
        merged = w.double() + (alpha / r) * (b.double() @ a.double())
        out[f"{name}.weight"] = merged.to(torch.promote_types(w.dtype, torch.float32))
    return out


def infer_config(state_dict: dict[str, torch.Tensor], *, causal: bool = False) -> ModelConfig:
    """Every hyperparameter from tensor shapes (head_dim = 2 x len(inv_freq)); `causal` is not in the weights.

    Raises:
        CheckpointError: a key the inference needs is missing.
    """
    try:
        d_model = state_dict["motion_embedding.2.weight"].shape[0]
        head_dim = 2 * state_dict["transformer_encoder.layers.0.self_attn.rope.inv_freq"].shape[0]
        return ModelConfig(
            input_dim=state_dict["motion_embedding.0.weight"].shape[1],
            d_model=d_model,
            nhead=d_model // head_dim,
            num_layers=len({int(m.group(1)) for k in state_dict if (m := _LAYER_KEY.match(k))}),
            output_dim=state_dict["pose_decoder.3.weight"].shape[0],
            embedding_dim=state_dict["text_projection.0.weight"].shape[1],
            num_actions=state_dict["action_embedding.weight"].shape[0],
            causal=causal,
        )
    except KeyError as e:
        raise StateDictMismatchError(
            f"Not a Stick-Gen state_dict: key {e.args[0]} is missing, so the architecture cannot be inferred.",
            missing_keys=[e.args[0]],
        ) from None


def load_state_dict_strict(model: StickFigureTransformer, state_dict: dict[str, torch.Tensor], *, path: str | None = None) -> None:
    """Load with every key and shape checked first; the error names the first offenders and the counts."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        (k, tuple(state_dict[k].shape), tuple(v.shape)) for k, v in expected.items() if k in state_dict and state_dict[k].shape != v.shape
    ]
    if missing or unexpected or mismatched:
        parts = []
        if mismatched:
            shown = "; ".join(f"{k}: checkpoint {list(a)} vs model {list(b)}" for k, a, b in mismatched[:3])
            parts.append(f"{len(mismatched)} shape mismatch(es) ({shown})")
        if missing:
            parts.append(f"{len(missing)} missing key(s) ({', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) ({', '.join(unexpected[:3])})")
        where = f"{path}: " if path else ""
        raise StateDictMismatchError(
            f"{where}state_dict does not fit the model: " + "; ".join(parts) + ".",
            missing_keys=missing,
            unexpected_keys=unexpected,
            shape_mismatches=mismatched,
            path=path,
        )
    model.load_state_dict(state_dict, strict=True)


def load_checkpoint(
    path: str | Path,
    *,
    base: str | Path | None = None,
    lora_alpha: float | None = None,
    lora_rank: int | None = None,
    map_location: str | torch.device = "cpu",
) -> tuple[StickFigureTransformer, ModelConfig]:
    """Load any Stick-Gen checkpoint into a model in eval mode.

    Args:
        path: a weights file (.safetensors, .bin, .pth, .pt) or a directory holding one
            (model.safetensors preferred, then pytorch_model.bin; config.json beside it is read), or
            a directory written by peft's `save_pretrained` (LoRA adapters, merged into `base`).
        base: a checkpoint the LoRA adapters in `path` apply to, when `path` holds adapters only.
        lora_alpha, lora_rank: LoRA scaling when neither file has a `lora_config`.
        map_location: device to place the weights on.

    Returns:
        (model, config), the config inferred from tensor shapes (+ `causal` from config.json, the base's
        when `path` has none).

    Raises:
        CheckpointError: unreadable, truncated or unsafe file; LoRA adapters without alpha.
        StateDictMismatchError: keys or shapes do not fit the architecture.
    """
    raw = read_checkpoint(path)
    state_dict, config_json = raw.state_dict, raw.config_json
    lora_config = raw.lora_config or (raw.config_json or {}).get("lora_config")
    if base is not None:
        base_raw = read_checkpoint(base)
        state_dict = {**base_raw.state_dict, **state_dict}
        lora_config = lora_config or base_raw.lora_config
        config_json = config_json or base_raw.config_json  # a peft adapter directory has no config.json
    if raw.lora_keys or (base is not None):
        lora_config = lora_config or {}
        alpha = lora_alpha if lora_alpha is not None else lora_config.get("alpha", lora_config.get("lora_alpha"))
        rank = lora_rank if lora_rank is not None else lora_config.get("rank", lora_config.get("r"))
        state_dict = merge_lora(state_dict, alpha=alpha, rank=rank)
    if raw.image_keys:
        log.warning("%s: ignoring %d image-conditioning tensors (stickeval evaluates the text path)", raw.path, len(raw.image_keys))
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(_IMAGE_PREFIXES)}
    causal = bool((config_json or {}).get("causal", False))
    config = infer_config(state_dict, causal=causal)
    with torch.device("meta"):
        model = StickFigureTransformer(config)
    model = model.to_empty(device=map_location)
    load_state_dict_strict(model, state_dict, path=str(raw.path))
    return model.eval(), config


def save_checkpoint(model: StickFigureTransformer, directory: str | Path, *, metadata: dict | None = None) -> Path:
    """Write `model.safetensors`, `config.json` and `pytorch_model.bin` into `directory`, each atomically.

    `pytorch_model.bin` is a bare state_dict with the original key names, so the published
    model-card snippet (`model.load_state_dict(torch.load(path))`) loads it. `metadata` (text
    encoder, action names, recipe...) is stored in config.json beside the architecture and the schema
    ("v1", "v3", or null for a model of another width).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state_dict = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    config = model.config
    with atomic_path(directory / "model.safetensors") as tmp:
        save_safetensors(state_dict, str(tmp), metadata={"format": "pt"})
    with atomic_path(directory / "pytorch_model.bin") as tmp:
        torch.save(state_dict, tmp)
    document = {
        "model_type": "stick-figure-transformer",
        **config.to_dict(),
        "schema": schema_name(config.input_dim),
        **(metadata or {}),
    }
    write_text_atomic(directory / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
    return directory


def describe_checkpoint(path: str | Path) -> dict:
    """What a checkpoint holds, without merging or loading it: format, inferred config, schema,
    parameter count, LoRA and image-conditioning keys, other training-dict keys.

    Raises:
        CheckpointError / StateDictMismatchError: as `read_checkpoint` and `infer_config`.
    """
    raw = read_checkpoint(path)
    plain = {k.replace(".base_layer.", "."): v for k, v in raw.state_dict.items() if ".lora_" not in k}
    config = infer_config(plain, causal=bool((raw.config_json or {}).get("causal", False)))
    return {
        "path": str(raw.path),
        "format": raw.format,
        "config": config.to_dict(),
        "schema": schema_name(config.input_dim),
        "n_params": sum(v.numel() for k, v in plain.items() if not k.endswith("inv_freq") and not k.startswith(_IMAGE_PREFIXES)),
        "lora_keys": len(raw.lora_keys),
        "lora_params": sum(raw.state_dict[k].numel() for k in raw.lora_keys),
        "lora_config": raw.lora_config,
        "image_conditioning_keys": len(raw.image_keys),
        "training_dict_keys": raw.extra_keys,
    }
