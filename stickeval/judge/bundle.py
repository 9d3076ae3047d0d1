"""An evaluator on disk and in memory: the two networks, their config, and a manifest with sha256s.

A bundle directory holds `evaluator.safetensors` (the text-motion evaluator), `classifier.safetensors`
(the time-aware action classifier) and `manifest.json`: the architecture, training settings and data
hashes, the sha256 of each weight file, the training cost and the held-out figures. Weights are read
with safetensors only (no pickle), after their sha256 is checked against the manifest, so a corrupt or
swapped file is refused with one line that says what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stickeval._io import atomic_path, sha256_file, write_text_atomic
from stickeval.errors import EvaluatorError, first_line
from stickeval.judge.inputs import motion_tracks
from stickeval.judge.model import ActionNet, EvaluatorConfig, TextMotionEvaluator

EVALUATOR_VERSION = "evaluator-v3"  # bump when inputs, architecture or training change
WEIGHT_FILES = {"evaluator": "evaluator.safetensors", "classifier": "classifier.safetensors"}
MANIFEST = "manifest.json"
_BATCH = 512  # clips per forward pass: bounds memory at 512 x 250 x 64 activations


@dataclass
class Evaluator:
    """A domain's learned judges: text-motion co-embeddings and the action classifier.

    Attributes:
        config: the architecture (input channels, text dim, width, embedding dim, classes).
        network: the text-motion evaluator; classifier: the action classifier (both in eval mode).
        manifest: what `manifest.json` holds (training data, cost, held-out figures, sha256s).
    """

    config: EvaluatorConfig
    network: TextMotionEvaluator
    classifier: ActionNet
    manifest: dict[str, Any]

    @property
    def classes(self) -> tuple[str, ...]:
        """The classifier's action names, in the column order of `classify`."""
        return self.config.classes

    def embed_text(self, prompts: list[str]) -> np.ndarray:
        """Prompts -> float32 [N, embed_dim] unit vectors (through the built-in hash encoder)."""
        from stickeval.text import HashEncoder

        with torch.inference_mode():
            return self.network.embed_text(torch.from_numpy(HashEncoder(self.config.text_dim).encode(prompts))).numpy()

    def embed_motion(self, motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Clips [N, T, D] (real frames `lengths`) -> float32 [N, embed_dim] unit vectors.

        Raises:
            EvaluatorError: the clips' schema is not the one the evaluator was trained on.
            MetricInputError: bad clips (see `inputs.motion_tracks`).
        """
        return self._run(self.network.embed_motion, motion, lengths)

    def classify(self, motion: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Action probabilities float32 [N, len(classes)] of clips [N, T, D]. Raises: as `embed_motion`."""
        return torch.softmax(torch.from_numpy(self._run(self.classifier, motion, lengths)), dim=1).numpy()

    def predict(self, motion: np.ndarray, lengths: np.ndarray | None = None) -> list[str]:
        """The most probable action of each clip. Raises: as `embed_motion`."""
        return [self.classes[i] for i in self.classify(motion, lengths).argmax(axis=1)]

    def _run(self, fn, motion: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        tracks, mask = motion_tracks(motion, lengths, derivatives=self.config.derivatives)
        if tracks.shape[-1] != self.config.in_channels:
            raise EvaluatorError(
                f"the evaluator was trained on {self.config.in_channels} channels per frame but these clips give "
                f"{tracks.shape[-1]} (another schema?); score clips of the schema of its domain."
            )
        with torch.inference_mode():
            out = [
                fn(torch.from_numpy(tracks[i : i + _BATCH]), torch.from_numpy(mask[i : i + _BATCH])) for i in range(0, len(tracks), _BATCH)
            ]
        return torch.cat(out).numpy()


def save_evaluator(evaluator: Evaluator, directory: str | Path) -> Path:
    """Write the bundle into `directory` (each file atomically; the manifest last, with the sha256s)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    files = {}
    for key, module in (("evaluator", evaluator.network), ("classifier", evaluator.classifier)):
        path = directory / WEIGHT_FILES[key]
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(tmp))
        files[WEIGHT_FILES[key]] = sha256_file(path)
    manifest = {**evaluator.manifest, "version": EVALUATOR_VERSION, "config": evaluator.config.to_dict(), "files": files}
    write_text_atomic(directory / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    evaluator.manifest = manifest
    return directory


def load_evaluator_dir(directory: str | Path) -> Evaluator:
    """Read a bundle written by `save_evaluator`, checking every weight file against the manifest's sha256.

    Raises:
        EvaluatorError: the manifest or a weight file is missing or unreadable, a sha256 differs from
            the manifest, the version is not `EVALUATOR_VERSION`, or the weights do not fit the config.
    """
    from safetensors.torch import load_file

    directory = Path(directory)
    hint = "Reinstall stickeval (shipped weights) or delete the directory (cached weights: rebuilt on next use)."
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        config = EvaluatorConfig.from_dict(manifest["config"])
        expected = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EvaluatorError(f"cannot read the evaluator manifest in {directory}: {first_line(e)}. {hint}", path=str(directory)) from None
    if manifest.get("version") != EVALUATOR_VERSION:
        raise EvaluatorError(
            f"{directory} holds {manifest.get('version')}; this stickeval uses {EVALUATOR_VERSION}. {hint}", path=str(directory)
        )
    modules = {"evaluator": TextMotionEvaluator(config), "classifier": ActionNet(config)}
    for key, module in modules.items():
        path = directory / WEIGHT_FILES[key]
        if not path.is_file():
            raise EvaluatorError(f"{path} is missing. {hint}", path=str(path))
        digest = sha256_file(path)
        if digest != expected.get(WEIGHT_FILES[key]):
            raise EvaluatorError(
                f"{path} does not match its manifest (sha256 {digest[:12]}..., expected "
                f"{str(expected.get(WEIGHT_FILES[key]))[:12]}...). {hint}",
                path=str(path),
            )
        try:
            module.load_state_dict(load_file(str(path)))
        except Exception as e:  # safetensors and torch raise several types for bad files or shapes
            raise EvaluatorError(f"{path} cannot be loaded ({type(e).__name__}: {first_line(e)}). {hint}", path=str(path)) from None
        module.eval()
    return Evaluator(config, modules["evaluator"], modules["classifier"], manifest)
