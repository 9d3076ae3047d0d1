"""The weights shipped inside the package (`builtin/<name>/`): export from a training run, and verify on load.

A built-in variant's directory holds fp16 `model.safetensors` (full weights, or LoRA adapters only
for a variant with a `base`), `config.json` and `manifest.json`. The manifest records how the
weights were made (the exact commands, recipe, seed, data hash, torch version, machine, training
time) and the sha256 of every other file, so the loader can refuse a damaged installation with one
line instead of evaluating corrupt weights. `scripts/build_nano.py` (`make nano`) calls `export_run`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from stickeval._io import atomic_path, sha256_file, write_text_atomic
from stickeval.errors import CheckpointError, first_line
from stickeval.zoo.checkpoint import CONFIG_FILE

MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
FP16_MAX = float(torch.finfo(torch.float16).max)
KEEP_FP32 = ("inv_freq",)  # computed buffers, not learned weights (see _fp16)
_REPAIR = "The installed stickeval is damaged: reinstall it (pip install --force-reinstall stickeval), or in a checkout run `make nano`."


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a built-in variant's directory.

    Raises:
        CheckpointError: manifest.json is missing, not JSON, or lists no files.
    """
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} is missing or unreadable ({first_line(e)}). {_REPAIR}", path=str(path)) from None
    if not isinstance(files, dict) or WEIGHTS not in files:
        raise CheckpointError(f"{path} lists no sha256 for {WEIGHTS}. {_REPAIR}", path=str(path))
    return manifest


def verify(directory: str | Path) -> dict:
    """Check every file the manifest lists against its sha256, before anything is loaded from it.

    Returns:
        The manifest.

    Raises:
        CheckpointError: the manifest is unreadable, or a listed file is missing or differs from its
            sha256 (one line naming the file and both digests' first 12 hex digits).
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing. {_REPAIR}", path=str(path))
        digest = sha256_file(path)
        if digest != expected:
            raise CheckpointError(
                f"{path} does not match its manifest (sha256 {digest[:12]}..., expected {str(expected)[:12]}...). {_REPAIR}",
                path=str(path),
            )
    return manifest


def _fp16(tensors: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    """Learned floating tensors as contiguous fp16; refuses values fp16 cannot hold.

    RoPE's `inv_freq` buffers stay fp32: fp16's 5e-4 relative error in a frequency would turn
    into a 0.1-radian error in the rotation angle at frame 250.
    """
    out = {}
    for key, value in tensors.items():
        if value.is_floating_point() and not key.endswith(KEEP_FP32):
            if value.abs().max() > FP16_MAX:
                raise CheckpointError(f"{source}: {key} has values beyond fp16's range; it cannot ship as fp16.", path=str(source))
            value = value.to(torch.float16)
        out[key] = value.contiguous()
    return out


def export_run(run_dir: str | Path, out_dir: str | Path, manifest: dict, *, base_dir: str | Path | None = None) -> dict:
    """Write a training run's model into a built-in directory: fp16 weights, config.json, manifest.json.

    With `base_dir` (the built-in base the run was fine-tuned from with LoRA), only the adapters
    (`*.lora_A`, `*.lora_B`) are written, after checking that the run's frozen base weights are
    exactly the base's (so the zoo's merge of adapters into the shipped base is the trained model).

    Args:
        run_dir: the directory `stickeval train`/`finetune` wrote.
        out_dir: `stickeval/zoo/builtin/<name>/`; replaced.
        manifest: provenance fields (commands, recipe, data, machine, timing...); `files` is added.

    Returns:
        The manifest as written.

    Raises:
        CheckpointError: the run has no weights, a LoRA run's base differs from `base_dir`, or a
            value does not fit in fp16.
    """
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    state = load_file(str(run_dir / WEIGHTS))
    if base_dir is not None:
        base = load_file(str(Path(base_dir) / WEIGHTS))
        differ = [k for k, v in base.items() if k not in state or not torch.equal(state[k].to(v.dtype), v)]
        if differ:
            raise CheckpointError(f"{run_dir} was not fine-tuned from {base_dir}: {len(differ)} base tensors differ ({differ[0]}...).")
        state = {k: v for k, v in state.items() if ".lora_" in k}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with atomic_path(out_dir / WEIGHTS) as tmp:
        save_file(_fp16(state, run_dir / WEIGHTS), str(tmp), metadata={"format": "pt", "dtype": "float16"})
    shutil.copyfile(run_dir / CONFIG_FILE, out_dir / CONFIG_FILE)
    files = {name: sha256_file(out_dir / name) for name in (WEIGHTS, CONFIG_FILE)}
    manifest = {**manifest, "files": files}
    write_text_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return manifest
