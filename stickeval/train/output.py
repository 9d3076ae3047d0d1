"""What a training run writes: the run directory beside the model the zoo loads.

`recipe.toml` (the resolved recipe: `--recipe` on it reproduces the run), `train_log.jsonl` (one
JSON object per logged step, epoch and evaluation), optionally the same numbers as TensorBoard
events under `tensorboard/`, `training.json` (data source and hash, curation table, steps, how the
step ran), and at the end the model: `save_checkpoint`'s files, or with LoRA the base weights plus
adapters under the keys the zoo merges (`--merge` folds them in instead). Only rank 0 writes.

A new run claims its directory first (`claim_run_directory`): a directory holding another run, or
other files, is refused unless the caller forces it, so a run never silently replaces another.
"""

from __future__ import annotations

import json
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

from safetensors.torch import save_file as save_safetensors
from torch import nn

from stickeval._io import atomic_path, check_output_dir, check_writable, write_text_atomic
from stickeval.data.schema import ACTIONS
from stickeval.errors import CheckpointWriteError, MissingDependencyError, first_line
from stickeval.train.dataset import TrainingData
from stickeval.train.recipe import Recipe
from stickeval.train.state import STATE_FILE
from stickeval.version import __version__
from stickeval.zoo.checkpoint import CONFIG_FILE, WEIGHT_FILES, save_checkpoint, schema_name

LOG_FILE = "train_log.jsonl"
RECIPE_FILE = "recipe.toml"  # written first: the file that marks a directory as a training run
SUMMARY_FILE = "training.json"
TENSORBOARD_DIR = "tensorboard"
EVALS_DIR = "evals"  # `--eval-every` results, one run directory per evaluated step
# Everything a training run writes into its directory: what a new run started with `force` replaces.
RUN_OUTPUTS = (RECIPE_FILE, LOG_FILE, SUMMARY_FILE, STATE_FILE, TENSORBOARD_DIR, EVALS_DIR, CONFIG_FILE, *WEIGHT_FILES)


def claim_run_directory(directory: Path, *, force: bool) -> bool:
    """Check, before any work, that a new run may write into `directory` (`output_dir.check_output_dir`).

    A new or empty directory is used. One that holds a training run (its recipe.toml) is refused,
    whatever its recipe, since starting over would discard it: the message names --resume when the
    run has a checkpoint to continue from. Other files are refused too. `force` takes the directory anyway.

    Returns:
        True when the directory holds a training run that `force` replaces (`RunWriter.start` removes
        its `RUN_OUTPUTS` once the new run's data and model are ready).

    Raises:
        OutputPathError: `directory` is a file or not writable; or, without `force`, it holds a run or other files.
    """

    def existing_run(recipe_file: Path) -> str:
        try:
            name = tomllib.loads(recipe_file.read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            name = None
        recipe = f" of {name}" if isinstance(name, str) else ""
        if not (directory / STATE_FILE).is_file():
            return f"a training run{recipe} that saved no checkpoint"
        return f"a training run{recipe} (continue it with `stickeval train --resume {directory}`)"

    check_writable(directory, directory=True)
    return check_output_dir(directory, marker=RECIPE_FILE, what="training run", other_job=existing_run, force=force)


class RunWriter:
    """Writes a run directory; every method is a no-op when `enabled` is False (ranks other than 0).

    With `tensorboard`, every number of train_log.jsonl is also an event (`tensorboard_scalars`).
    """

    def __init__(self, directory: Path, recipe: Recipe, *, enabled: bool = True, tensorboard: bool = False):
        self.directory, self.recipe, self.enabled, self.tensorboard = directory, recipe, enabled, tensorboard
        self._events = None  # the TensorBoard SummaryWriter, once started

    def start(self, data: TrainingData, *, resumed_at: int | None, replace: bool = False) -> None:
        """Write the recipe; on a resume, drop log lines (and TensorBoard events) past the checkpoint's step (they are redone).

        Args:
            data: the run's data.
            resumed_at: the step of the checkpoint resumed from; None for a new run.
            replace: first remove the files of the run the directory holds (`claim_run_directory` with force).

        Raises:
            MissingDependencyError: `tensorboard` was asked for and the package is not installed.
            CheckpointWriteError: the directory cannot be written.
        """
        if not self.enabled:
            return
        if replace:
            self._guard(lambda: _remove(self.directory, RUN_OUTPUTS))
        if self.tensorboard:
            self._events = _event_writer(self.directory / TENSORBOARD_DIR, purge_step=None if resumed_at is None else resumed_at + 1)
        self._guard(lambda: write_text_atomic(self.directory / RECIPE_FILE, self.recipe.to_toml()))
        path = self.directory / LOG_FILE
        if resumed_at is None:
            self._guard(lambda: write_text_atomic(path, ""))
        elif path.is_file():
            kept = [line for line in path.read_text(encoding="utf-8").splitlines() if line and json.loads(line)["step"] <= resumed_at]
            self._guard(lambda: write_text_atomic(path, "".join(f"{line}\n" for line in kept)))

    def log(self, entry: dict) -> None:
        """Append one line to train_log.jsonl (one write per line), and its numbers as TensorBoard events."""
        if not self.enabled:
            return
        line = json.dumps(entry) + "\n"
        self._guard(lambda: _append(self.directory / LOG_FILE, line))
        if self._events is not None:
            for tag, value in tensorboard_scalars(entry):
                self._events.add_scalar(tag, value, entry["step"])

    def close(self) -> None:
        """Flush and close the TensorBoard events (a no-op without them)."""
        if self._events is not None:
            self._events.close()
            self._events = None

    def finish(self, model: nn.Module, data: TrainingData, *, steps: int, total_steps: int, merge: bool, execution: dict) -> None:
        """Write the trained model (plain, merged or base + adapters) and training.json (`execution`: how
        the step ran, e.g. the micro-batch found, compilation, the device and its measured peak)."""
        if not self.enabled:
            return
        from stickeval.train import lora

        r = self.recipe
        metadata = {
            "encoder": data.source["encoder"],
            "action_names": list(ACTIONS[: model.config.num_actions]),
            "recipe": r.name,
            "objective": r.objective.kind,
            "init_from": r.model.init_from or None,
            "data_sha256": data.source["sha256"],
            "stickeval_version": __version__,
        }
        adapted = bool(lora.adapters(model))
        if adapted and merge:
            model = lora.merge_adapters(_copy(model))
        if adapted and not merge:
            lo = r.lora
            metadata["lora_config"] = {"rank": lo.rank, "alpha": lo.alpha, "dropout": lo.dropout, "target_modules": lo.target_modules}
            self._guard(lambda: _save_adapters(model, self.directory, metadata))
        else:
            self._guard(lambda: save_checkpoint(model, self.directory, metadata=metadata))
        summary = {
            "recipe": r.name,
            "steps": steps,
            "total_steps": total_steps,
            "data": data.source,
            "n_train": data.n_train,
            "n_val": data.n_val,
            "curation": data.curation.to_dict(),
            "lora": "adapters" if adapted and not merge else ("merged" if adapted else None),
            "execution": execution,
        }
        self._guard(lambda: write_text_atomic(self.directory / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n"))

    def _guard(self, write) -> None:
        try:
            write()
        except (OSError, RuntimeError) as e:  # torch.save's zip writer reports a failed write as RuntimeError
            raise CheckpointWriteError(
                f"Could not write into {self.directory} ({first_line(e)}); files already there are intact. "
                "Free disk space (or fix permissions), then continue with --resume."
            ) from e


def tensorboard_scalars(entry: dict) -> Iterator[tuple[str, float]]:
    """The TensorBoard tags and values of one train_log.jsonl entry: `train/<key>` for each number of
    a step (loss terms, lr, grad_norm, speed), `val/loss` for an epoch's validation loss, and
    `eval/<metric>` for each evaluated metric's mean. Absent values (None) are left out."""
    for key, value in entry.items():
        if key == "eval":
            yield from ((f"eval/{metric}", e["mean"]) for metric, e in value.items() if e.get("mean") is not None)
        elif key == "val_loss" and value is not None:
            yield "val/loss", value
        elif key not in ("step", "epoch", "val_loss") and isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"train/{key}", value


def _event_writer(directory: Path, *, purge_step: int | None):
    """torch's TensorBoard SummaryWriter on `directory`, dropping events from `purge_step` on (a resume redoes them).

    Raises:
        MissingDependencyError: the `tensorboard` package is not installed.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise MissingDependencyError("tensorboard", "--log tensorboard", "tensorboard") from e
    return SummaryWriter(str(directory), purge_step=purge_step)


def _remove(directory: Path, names: tuple[str, ...]) -> None:
    for name in names:
        path = directory / name
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)


def _copy(model: nn.Module) -> nn.Module:
    import copy

    return copy.deepcopy(model)


def _save_adapters(model: nn.Module, directory: Path, metadata: dict) -> None:
    """model.safetensors with base weights + `lora_A`/`lora_B`, and config.json with `lora_config`:
    `load_checkpoint` (so `stickeval run DIR`) merges them; a stale pytorch_model.bin is removed."""
    from stickeval.train.lora import adapter_state_dict

    state = {k: v.detach().contiguous().cpu() for k, v in adapter_state_dict(model).items()}
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / "model.safetensors") as tmp:
        save_safetensors(state, str(tmp), metadata={"format": "pt"})
    (directory / "pytorch_model.bin").unlink(missing_ok=True)
    config = model.config
    document = {"model_type": "stick-figure-transformer", **config.to_dict(), "schema": schema_name(config.input_dim), **metadata}
    write_text_atomic(directory / CONFIG_FILE, json.dumps(document, indent=2) + "\n")
