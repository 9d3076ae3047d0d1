"""`stickeval inspect PATH`: what a checkpoint file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import JsonOpt
from stickeval.cli.output import examples, print_fields, print_json

EXAMPLES = examples(
    "stickeval inspect pytorch_model.bin          # format, config, schema, parameters",
    "stickeval inspect runs/ckpt/ --json | jq .config",
)


def inspect(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="A weights file (.safetensors/.bin/.pth/.pt) or a checkpoint directory.", show_default=False),
    ],
    json_: JsonOpt = False,
) -> None:
    """Show a checkpoint's format, inferred architecture, schema, parameter count and adapters."""
    from stickeval.zoo.checkpoint import describe_checkpoint

    info = describe_checkpoint(path)
    if json_:
        print_json(info)
        return
    rows = [
        ("format", info["format"]),
        ("schema", f"{info['schema']} ({info['config']['input_dim']}-dim)"),
        ("parameters", f"{info['n_params']:,}"),
        *((key, str(value)) for key, value in info["config"].items()),
    ]
    if info["lora_keys"]:
        rows.append(("LoRA", f"{info['lora_keys']} adapter tensors, {info['lora_params']:,} params (merged at load)"))
    if info["image_conditioning_keys"]:
        rows.append(("image conditioning", f"{info['image_conditioning_keys']} tensors (ignored at load)"))
    if info["training_dict_keys"]:
        rows.append(("training dict keys", ", ".join(info["training_dict_keys"])))
    print_fields(str(info["path"]), rows)
