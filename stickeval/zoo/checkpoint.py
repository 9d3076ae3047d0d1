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
from collections import Counter
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
# Where each width shows in the weights, as (key, dimension): the value most of them agree on is taken (the
# first key breaks a tie), so that one wrong-shaped tensor is named as such instead of redefining the model.
_WIDTH_SOURCES = {
    "d_model": (
        ("motion_embedding.2.weight", 0),
        ("motion_embedding.3.weight", 0),
        ("text_projection.3.weight", 0),
        ("action_projection.0.weight", 0),
        ("pose_decoder.0.weight", 1),
    ),
    "input_dim": (("motion_embedding.0.weight", 1),),
    "output_dim": (("pose_decoder.3.weight", 0),),
    "embedding_dim": (("text_projection.0.weight", 1),),
    "num_actions": (("action_embedding.weight", 0), ("action_predictor.3.weight", 0)),
}
_INV_FREQ = "transformer_encoder.layers.0.self_attn.rope.inv_freq"  # head_dim / 2 frequencies: the head size
_ARCHITECTURE = ("input_dim", "d_model", "nhead", "num_layers", "output_dim", "embedding_dim", "num_actions")


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
        lora_config = {"rank": peft.rank, "alpha": peft.alpha, "base": peft.base}
        return RawCheckpoint(path, "peft", from_peft_keys(obj, path), None, lora_config)
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


def infer_config(state_dict: dict[str, torch.Tensor], config_json: dict | None = None, *, path: str | None = None) -> ModelConfig:
    """The architecture a state_dict holds, read from its tensor shapes and checked against every tensor.

    Each width is the value most of the tensors carrying it agree on, the head size is 2 x
    len(rope.inv_freq), the layer count the highest layer index + 1. The model those give must be
    possible (every width positive, d_model a multiple of the head size), and every key and shape of
    it must be in the state_dict: `load_checkpoint` and `describe_checkpoint` both rely on this one
    check, so a damaged file is refused by both, naming its keys, before any model is built from it.
    `dropout` and `causal` are not in the weights: they come from config.json (defaults without it).

    Args:
        state_dict: the weights (LoRA adapters merged, image-conditioning tensors removed).
        config_json: the config.json beside the weights, if any.
        path: the file, to name in errors.

    Raises:
        StateDictMismatchError: a key the inference needs is missing; the shapes give an impossible
            model; or keys are missing, unexpected or of another shape than that model's (named, with
            the shapes expected).
    """
    where = f"{path}: " if path else ""
    widths = {name: _width(state_dict, name, path=path) for name in _WIDTH_SOURCES}
    if _INV_FREQ not in state_dict:
        raise _not_stick_gen(_INV_FREQ, path)
    inv_freq = state_dict[_INV_FREQ]
    head_dim = 2 * inv_freq.shape[0] if inv_freq.dim() == 1 else 0
    problems = [f"{name} {value} (from {key} {list(state_dict[key].shape)})" for name, (value, key) in widths.items() if value < 1]
    d_model, d_model_key = widths["d_model"]
    if head_dim < 2 or d_model % head_dim:
        problems.append(
            f"d_model {d_model} (from {d_model_key} {list(state_dict[d_model_key].shape)}) is not a multiple of the head size "
            f"{head_dim} (2 x the length of {_INV_FREQ} {list(inv_freq.shape)})"
        )
    if problems:
        raise StateDictMismatchError(
            f"{where}The weights give an impossible model: {'; '.join(problems)}. "
            "The file is damaged or not a Stick-Gen checkpoint: re-download or re-save it.",
            path=path,
        )
    config = ModelConfig(
        **{name: value for name, (value, _) in widths.items()},
        nhead=d_model // head_dim,
        num_layers=1 + max(int(m.group(1)) for k in state_dict if (m := _LAYER_KEY.match(k))),
        **_unshaped_settings(config_json),
    )
    _check_keys_and_shapes(state_dict, config, where=where, path=path)
    return config


def _width(state_dict: dict[str, torch.Tensor], name: str, *, path: str | None) -> tuple[int, str]:
    """The value of width `name` most of its source tensors agree on, and the first key giving it."""
    found = [(t.shape[dim], key) for key, dim in _WIDTH_SOURCES[name] if (t := state_dict.get(key)) is not None and t.dim() > dim]
    if not found:
        raise _not_stick_gen(_WIDTH_SOURCES[name][0][0], path)
    votes = Counter(value for value, _ in found)
    return next((value, key) for value, key in found if votes[value] == max(votes.values()))


def _not_stick_gen(key: str, path: str | None) -> StateDictMismatchError:
    where = f"{path}: " if path else ""
    return StateDictMismatchError(
        f"{where}Not a Stick-Gen state_dict: key {key} is missing, so the architecture cannot be inferred.", missing_keys=[key], path=path
    )


def _unshaped_settings(config_json: dict | None) -> dict:
    """`dropout` and `causal` from config.json: the settings no tensor shape shows (none without a config.json)."""
    document = config_json or {}
    settings = {"causal": bool(document.get("causal", False))}
    dropout = document.get("dropout")
    if isinstance(dropout, int | float) and not isinstance(dropout, bool) and 0 <= dropout < 1:
        settings["dropout"] = float(dropout)
    return settings


def _check_keys_and_shapes(state_dict: dict[str, torch.Tensor], config: ModelConfig, *, where: str, path: str | None) -> None:
    """Every key and shape of the model `config` describes, against the state_dict.

    Raises:
        StateDictMismatchError: naming the first offenders of each kind, with the shapes expected.
    """
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in StickFigureTransformer(config).state_dict().items()}
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    mismatched = [
        (k, tuple(state_dict[k].shape), shape) for k, shape in expected.items() if k in state_dict and state_dict[k].shape != shape
    ]
    if not (missing or unexpected or mismatched):
        return
    parts = []
    if mismatched:
        shown = "; ".join(f"{k}: checkpoint {list(a)}, expected {list(b)}" for k, a, b in mismatched[:3])
        parts.append(f"{len(mismatched)} shape mismatch(es) ({shown})")
    if missing:
        parts.append(f"{len(missing)} missing key(s) ({', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected key(s) ({', '.join(unexpected[:3])})")
    c = config
    raise StateDictMismatchError(
        f"{where}state_dict does not fit the architecture most of its tensors give (d_model {c.d_model}, nhead {c.nhead}, "
        f"num_layers {c.num_layers}, input_dim {c.input_dim}, num_actions {c.num_actions}): " + "; ".join(parts) + ".",
        missing_keys=missing,
        unexpected_keys=unexpected,
        shape_mismatches=mismatched,
        path=path,
    )


def non_finite_keys(state_dict: dict[str, torch.Tensor]) -> list[str]:
    """The keys of the floating-point tensors that hold NaN or inf, in state_dict order.

    One wait for the device in all, so the trainer can check its weights before each save.
    """
    floating = [(key, value) for key, value in state_dict.items() if value.is_floating_point()]
    if not floating:
        return []
    finite = torch.stack([torch.isfinite(value).all() for _, value in floating]).tolist()
    return [key for (key, _), ok in zip(floating, finite) if not ok]


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
        (model, config), the config inferred from tensor shapes (+ `dropout` and `causal` from config.json,
        the base's when `path` has none).

    Raises:
        CheckpointError: unreadable, truncated or unsafe file; LoRA adapters without alpha.
        StateDictMismatchError: keys or shapes do not fit one architecture (`infer_config`).
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
    config = infer_config(state_dict, config_json, path=str(raw.path))
    with torch.device("meta"):
        model = StickFigureTransformer(config)
    model = model.to_empty(device=map_location)
    model.load_state_dict(state_dict, strict=True)  # keys and shapes were checked by infer_config
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
    """What a checkpoint holds, without merging or loading it: format, architecture, schema, parameter
    count, LoRA adapters, image-conditioning keys, other training-dict keys, and NaN/inf tensors.

    The architecture is `infer_config`'s (the check `load_checkpoint` makes), with config.json's
    `dropout` and `causal`. A file of LoRA adapters alone holds no architecture: config.json's, when it
    records one, is shown (`config_source`), and the adapters' base is the one their config names
    (peft's `base_model_name_or_path`, or the `init_from` of a stickeval run).

    Returns:
        {"path", "format", "config" (None when unknown), "config_source" ("weights", "config.json" or
        None), "schema", "n_params" (None for adapters alone), "lora_keys", "lora_params",
        "lora_config", "adapters" (None, or {"rank", "alpha", "modules", "targets", "base"}),
        "image_conditioning_keys", "training_dict_keys", "n_tensors", "non_finite" (keys holding NaN/inf)}.

    Raises:
        CheckpointError / StateDictMismatchError: as `read_checkpoint` and `infer_config`.
    """
    raw = read_checkpoint(path)
    plain = {
        k.replace(".base_layer.", "."): v for k, v in raw.state_dict.items() if ".lora_" not in k and not k.startswith(_IMAGE_PREFIXES)
    }
    if plain:
        config, source = infer_config(plain, raw.config_json, path=str(raw.path)), "weights"
    else:
        config = _recorded_config(raw.config_json)
        source = "config.json" if config else None
    return {
        "path": str(raw.path),
        "format": raw.format,
        "config": config.to_dict() if config else None,
        "config_source": source,
        "schema": schema_name(config.input_dim) if config else None,
        "n_params": sum(v.numel() for k, v in plain.items() if not k.endswith("inv_freq")) if plain else None,
        "lora_keys": len(raw.lora_keys),
        "lora_params": sum(raw.state_dict[k].numel() for k in raw.lora_keys),
        "lora_config": raw.lora_config,
        "adapters": _describe_adapters(raw, adapters_only=not plain),
        "image_conditioning_keys": len(raw.image_keys),
        "training_dict_keys": raw.extra_keys,
        "n_tensors": len(raw.state_dict),
        "non_finite": non_finite_keys(raw.state_dict),
    }


def _recorded_config(config_json: dict | None) -> ModelConfig | None:
    """The architecture a config.json records (every width an integer), else None."""
    document = config_json or {}
    widths = {name: document.get(name) for name in _ARCHITECTURE}
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in widths.values()):
        return None
    return ModelConfig(**widths, **_unshaped_settings(config_json))


def _describe_adapters(raw: RawCheckpoint, *, adapters_only: bool) -> dict | None:
    """The LoRA adapters of a checkpoint: rank, alpha, how many modules, which ones (layer numbers
    dropped), and for adapters alone the base they apply to; None without adapters."""
    keys = raw.lora_keys
    if not keys:
        return None
    lora = raw.lora_config or (raw.config_json or {}).get("lora_config") or {}
    modules = sorted({k.rsplit(".lora_", 1)[0] for k in keys})
    first_a = next((k for k in keys if k.endswith(".lora_A")), None)
    rank = lora.get("rank", lora.get("r")) or (raw.state_dict[first_a].shape[0] if first_a else None)
    base = (lora.get("base") or (raw.config_json or {}).get("init_from")) if adapters_only else None
    return {
        "rank": rank,
        "alpha": lora.get("alpha", lora.get("lora_alpha")),
        "modules": len(modules),
        "targets": sorted({_LAYER_KEY.sub("", name) for name in modules}),
        "base": base or None,
    }
