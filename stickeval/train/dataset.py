"""Training data: read a `.pt` file or build StickBench, curate, crop, split, stack into tensors.

Everything a run trains on is held in memory as stacked tensors (`TrainingData`), so a batch is an
index into them: no DataLoader workers, and a data order that depends on the seed alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from stickeval.data import load_dataset, load_suite, suite_to_samples
from stickeval.errors import DatasetError
from stickeval.train.curation import CurationReport, curate
from stickeval.train.recipe import Recipe


@dataclass(frozen=True)
class TrainingData:
    """The curated samples of a run, split into train and validation, stacked."""

    train: dict  # motion [N, T, I], embedding [N, E], actions [N, T], physics [N, T, 6], environment_types
    val: dict
    curation: CurationReport
    source: dict  # what was read: kind, path or suite, sha256, sample count, encoder

    @property
    def n_train(self) -> int:
        return len(self.train["motion"])

    @property
    def n_val(self) -> int:
        return len(self.val["motion"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_samples(recipe: Recipe, data_path: str | Path | None = None) -> tuple[list[dict], dict]:
    """The raw samples a recipe names, and a description of where they came from (with a hash).

    Raises:
        DatasetError: no data file given, an unreadable file, bad samples (with on_bad "fail"),
            or samples whose motion width or embedding size do not fit the model.
        TextEncoderError: StickBench's encoder is unknown or not installed.
    """
    d, m = recipe.data, recipe.model
    if d.source == "stickbench":
        from stickeval.text import get_encoder

        suite = load_suite(d.stickbench_size, split="train")
        encoder = get_encoder(d.encoder, dim=m.embedding_dim)
        samples = [
            {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
            for s in suite_to_samples(suite, encoder.encode(list(suite.prompts)))
        ]
        source = {
            "kind": "stickbench",
            "suite": suite.name,
            "version": suite.version,
            "split": "train",
            "sha256": suite.hash,
            "encoder": d.encoder,
        }
    else:
        path = data_path or d.path
        if not path:
            raise DatasetError(f"Recipe {recipe.name} trains on a .pt file: pass --data FILE.pt (or --set data.path=FILE.pt).")
        samples = load_dataset(path, on_bad=d.on_bad)
        source = {"kind": "file", "path": str(Path(path).resolve()), "sha256": _sha256(Path(path)), "encoder": d.encoder}
    problems = []
    for i, s in enumerate(samples):
        if s["motion"].shape[1] != m.input_dim:
            problems.append(f"sample {i}: 'motion' has {s['motion'].shape[1]} numbers per frame, the model takes {m.input_dim}")
        emb = s.get("embedding")
        if emb is None or emb.shape != (m.embedding_dim,):
            got = "none" if emb is None else list(emb.shape)
            problems.append(f"sample {i}: 'embedding' must be [{m.embedding_dim}] for this model (got {got})")
    if problems:
        shown = "; ".join(problems[:3]) + (f"; ... ({len(problems) - 3} more)" if len(problems) > 3 else "")
        raise DatasetError(
            f"{len(problems)} sample(s) do not fit the recipe's model: {shown}. Embed the prompts with the model's "
            "text encoder, or change model.input_dim / model.embedding_dim.",
            problems=problems,
        )
    return samples, {**source, "n_samples": len(samples)}


def prepare_data(recipe: Recipe, data_path: str | Path | None = None) -> TrainingData:
    """Read, curate, crop to `data.n_frames`, split (seeded) and stack the samples of a recipe.

    Raises:
        DatasetError: as `read_samples`, or no sample survives curation (the message says which step
            dropped them and which key to change).
    """
    samples, source = read_samples(recipe, data_path)
    c, n_frames = recipe.curation, recipe.data.n_frames
    report = curate(
        samples,
        n_frames=n_frames,
        min_quality=c.min_quality,
        missing_quality=c.missing_quality,
        balance=c.balance,
        max_fraction=c.max_fraction,
        seed=recipe.run.seed,
    )
    if not report.kept_indices:
        emptied = next(step for step in report.steps if step.n_kept == 0)
        key = {"length": "data.n_frames", "quality": "curation.min_quality"}.get(emptied.step, "curation.balance")
        raise DatasetError(
            f"No sample of {source.get('path', source.get('suite'))} passes curation: the {emptied.step} filter "
            f"({emptied.rule}) dropped all {emptied.n_in}. Change {key} (e.g. --set {key}=...) or use other data."
        )
    kept = [samples[i] for i in report.kept_indices]
    order = torch.randperm(len(kept), generator=torch.Generator().manual_seed(recipe.run.seed)).tolist()
    n_val = int(len(kept) * recipe.data.val_fraction)
    if recipe.data.val_fraction > 0 and len(kept) > 1:
        n_val = max(n_val, 1)
    val_idx, train_idx = sorted(order[:n_val]), sorted(order[n_val:])
    return TrainingData(_stack(kept, train_idx, n_frames), _stack(kept, val_idx, n_frames), report, source)


def _stack(samples: list[dict], index: list[int], n_frames: int) -> dict:
    chosen = [samples[i] for i in index]
    out = {
        "motion": torch.stack([s["motion"][:n_frames].float() for s in chosen]) if chosen else torch.empty(0),
        "embedding": torch.stack([s["embedding"].float() for s in chosen]) if chosen else torch.empty(0),
        "actions": torch.stack([s["actions"][:n_frames].long() for s in chosen]) if chosen else torch.empty(0),
        "physics": torch.stack([s["physics"][:n_frames].float() for s in chosen]) if chosen else torch.empty(0),
    }
    out["environment_types"] = [str(s.get("environment_type") or "earth_normal") for s in chosen]
    return out
