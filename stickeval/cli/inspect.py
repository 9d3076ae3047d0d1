"""`stickeval inspect PATH`: what a checkpoint file holds, and whether its weights are finite."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt
from stickeval.cli.output import examples, print_fields, print_json
from stickeval.errors import NonFiniteWeightsError

EXAMPLES = examples(
    "stickeval inspect pytorch_model.bin          # format, config, schema, parameters",
    "stickeval inspect runs/nano-lora/            # LoRA rank, alpha, targets and base",
    "stickeval inspect runs/ckpt/ --json | jq .config",
)


def inspect(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="A weights file (.safetensors/.bin/.pth/.pt), a checkpoint directory, or a peft adapter directory.",
            show_default=False,
        ),
    ],
    json_: JsonOpt = False,
) -> None:
    """Show a checkpoint's format, architecture, schema, parameter count and LoRA adapters; exit 1 if a weight is NaN or inf."""
    from stickeval.zoo.checkpoint import describe_checkpoint

    info = describe_checkpoint(path)
    if json_:
        print_json(info)
    else:
        print_fields(str(info["path"]), _rows(info))
    if info["non_finite"]:
        raise NonFiniteWeightsError(info["path"], info["non_finite"], info["n_tensors"])


def _rows(info: dict) -> list[tuple[str, str]]:
    """The table of `describe_checkpoint`'s fields."""
    config, adapters = info["config"], info["adapters"]
    rows = [("format", info["format"])]
    if config is None:
        rows.append(("architecture", "not in the file (LoRA adapters alone, no config.json recording one)"))
    else:
        rows.append(("schema", f"{info['schema']} ({config['input_dim']}-dim)"))
        if info["config_source"] == "config.json":
            rows.append(("architecture", "as config.json records it (the file holds LoRA adapters alone)"))
    if info["n_params"] is not None:
        rows.append(("parameters", f"{info['n_params']:,}"))
    rows += [(key, str(value)) for key, value in (config or {}).items()]
    if adapters is not None:
        alpha = "unknown (give lora_alpha in a --zoo entry)" if adapters["alpha"] is None else f"{adapters['alpha']:g}"
        rows += [
            ("LoRA", f"rank {adapters['rank']}, alpha {alpha}; {info['lora_keys']} tensors, {info['lora_params']:,} params"),
            ("LoRA targets", f"{adapters['modules']} modules: {', '.join(adapters['targets'])}"),
        ]
        if info["n_params"] is None:
            base = adapters["base"] or "not recorded (name it with `base = ...` in a --zoo entry)"
            rows.append(("LoRA base", f"{base} (merged into it at load)"))
        else:
            rows.append(("LoRA base", "this file's weights (merged at load)"))
    if info["image_conditioning_keys"]:
        rows.append(("image conditioning", f"{info['image_conditioning_keys']} tensors (ignored at load)"))
    if info["training_dict_keys"]:
        rows.append(("training dict keys", ", ".join(info["training_dict_keys"])))
    if info["non_finite"]:
        bad = info["non_finite"]
        rows.append(("NaN/inf", f"{len(bad)} of {info['n_tensors']} tensors: {', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}"))
    return rows
