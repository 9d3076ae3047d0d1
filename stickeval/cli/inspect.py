"""`stickeval inspect PATH`: what a checkpoint file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from stickeval.cli.options import JsonOpt
from stickeval.cli.output import console, print_json
from stickeval.zoo.checkpoint import describe_checkpoint

EXAMPLES = """
Examples:

  stickeval inspect pytorch_model.bin          # format, config, schema, parameters

  stickeval inspect runs/ckpt/ --json | jq .config
"""


def inspect(
    path: Annotated[Path, typer.Argument(help="A weights file (.safetensors/.bin/.pth/.pt) or a checkpoint directory.")],
    json_: JsonOpt = False,
) -> None:
    """Show a checkpoint's format, inferred architecture, schema, parameter count and adapters."""
    info = describe_checkpoint(path)
    if json_:
        print_json(info)
        return
    table = Table(title=str(info["path"]), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("format", info["format"])
    table.add_row("schema", f"{info['schema']} ({info['config']['input_dim']}-dim)")
    table.add_row("parameters", f"{info['n_params']:,}")
    for key, value in info["config"].items():
        table.add_row(key, str(value))
    if info["lora_keys"]:
        table.add_row("LoRA", f"{info['lora_keys']} adapter tensors, {info['lora_params']:,} params (merged at load)")
    if info["image_conditioning_keys"]:
        table.add_row("image conditioning", f"{info['image_conditioning_keys']} tensors (ignored at load)")
    if info["training_dict_keys"]:
        table.add_row("training dict keys", ", ".join(info["training_dict_keys"]))
    console.print(table)
