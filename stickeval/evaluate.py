"""Evaluation: suite → prompts (clean, noisy, other) → generation (cached) → scores → results.

`evaluate` runs a model on a suite and writes `results.json` (and `samples.jsonl` on request) into
a run directory; `score` re-scores a run directory from its cached generations, without the model.
The scoring itself lives in `stickeval.scoring`; this module plans and runs the generation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from stickeval.data import load_suite, suite_from_dataset
from stickeval.data.prompt_noise import NOISE_KINDS, NOISE_LEVELS, perturb
from stickeval.data.suite import Suite, select
from stickeval.errors import RunDirectoryError, SchemaMismatchError, TextEncoderError
from stickeval.generate import generate, resolve_device, resolve_dtype, teacher_forced
from stickeval.metrics.robustness import other_prompt_indices
from stickeval.rollout_cache import RolloutCache, cache_key
from stickeval.scoring import score_run
from stickeval.text import get_encoder

log = logging.getLogger(__name__)

RUN_FILE = "run.json"  # what `score` needs to rebuild the run: settings, model block, cache key
CHUNK_ROWS = {False: 256, True: 1024}  # rows per cached chunk (and per generate call), CPU / CUDA


@dataclass(frozen=True)
class RunSettings:
    """How a run generates: every field is recorded in results.json and keys the generation cache.

    suite: "quick", "standard", "real", or a path to a user `.pt` dataset.
    noise_prompts: how many prompts (the first ones) are also generated under each noise kind and
        level; robustness rests on these (6 kinds x 3 levels x noise_prompts extra rollouts).
    """

    suite: str = "quick"
    limit: int | None = None
    noise: bool = True
    noise_prompts: int = 64
    batch_size: int | str = "auto"
    device: str | None = None
    dtype: str | None = None
    prime: str = "reference"
    seed: int = 0
    compile: bool = False
    encoder: str | None = None  # overrides the text encoder the model names


@dataclass(frozen=True)
class Prompts:
    """Every rollout a run needs, as rows: the clean suite first, then other-prompt and noisy rows."""

    texts: np.ndarray  # float32 [M, E]
    sample: np.ndarray  # int [M]: the suite sample whose first frame and action track the row uses
    role: list[str]  # "clean", "other", or "noise:<kind>:<level>"
    noisy_prompts: dict[str, list[str]]  # role -> the perturbed prompt of each noise-subset sample


def build_suite(settings: RunSettings) -> Suite:
    """The suite's test split (a user dataset is used whole)."""
    if Path(settings.suite).suffix == ".pt":
        suite = suite_from_dataset(settings.suite, on_bad="skip")
        if settings.limit:
            suite = select(suite, np.arange(min(settings.limit, len(suite.ids))))
        return suite
    return load_suite(settings.suite, split="test", limit=settings.limit)


def plan_prompts(suite: Suite, encoder_name: str | None, embedding_dim: int, settings: RunSettings) -> tuple[Prompts, str | None]:
    """Clean rows (stored embeddings or the encoder), then, with noise on, other-prompt and noisy rows.

    Returns the rows and a notice when noise had to be skipped (no encoder for a stored-embedding dataset).
    """
    encoder, notice = None, None
    try:
        if encoder_name is None:
            raise TextEncoderError(
                "The model does not name its text encoder (no 'encoder' in its config.json or zoo entry). "
                "Pass --encoder bge-large (the published models) or --encoder hash."
            )
        encoder = get_encoder(encoder_name, dim=embedding_dim)
    except TextEncoderError as e:
        if suite.embeddings is None:
            raise
        notice = f"robustness skipped: {e}"
    clean = suite.embeddings if suite.embeddings is not None else encoder.encode(suite.prompts)
    n = len(suite.prompts)
    texts, sample, role, noisy = [clean], [np.arange(n)], ["clean"] * n, {}
    if settings.noise and encoder is not None:
        k = min(n, settings.noise_prompts)
        other = other_prompt_indices(suite.labels[:k], seed=settings.seed) if k > 1 else np.zeros(0, int)
        texts.append(clean[other])
        sample.append(np.arange(len(other)))
        role += ["other"] * len(other)
        for kind in NOISE_KINDS:
            for level in NOISE_LEVELS:
                name = f"noise:{kind}:{level}"
                noisy[name] = [perturb(p, kind, level, seed=settings.seed) for p in suite.prompts[:k]]
                texts.append(encoder.encode(noisy[name]))
                sample.append(np.arange(k))
                role += [name] * k
    elif settings.noise and notice:
        log.warning(notice)
    texts_all = np.concatenate(texts).astype(np.float32)
    return Prompts(texts_all, np.concatenate(sample), role, noisy), notice


def model_hash(model) -> str:
    """sha256 of the weights (names, shapes, bytes): the cache key's model part, whatever the source."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def prepare_output(output: Path) -> Path:
    """The run directory, created; refused when it is a file."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise RunDirectoryError(f"--output {output} is a file; pass a directory (it will hold results.json).")
    output.mkdir(parents=True, exist_ok=True)
    return output


def evaluate(
    loaded,
    settings: RunSettings,
    output: Path,
    *,
    resume: bool = True,
    log_samples: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Generate for every prompt of the suite (reusing cached rows) and score; write results.json.

    Args:
        loaded: a `stickeval.zoo.LoadedModel`.
        settings: RunSettings.
        output: run directory (created); generations are cached under it.
        resume: reuse this configuration's cached generations (an interrupted run continues
            where it stopped); False discards them and generates everything again.
        log_samples: also write samples.jsonl (one line per sample with its scores).
        progress: called with (rows done, rows total) after each generated batch.

    Returns:
        The results document (also written to `output/results.json`).

    Raises:
        RunDirectoryError, DatasetError, UnknownSuiteError, TextEncoderError, GenerationInputError:
        as their names say; `Suite` and model schemas must agree (20 vs 48 numbers per frame).
    """
    config = loaded.config
    suite = build_suite(settings)
    if suite.motion.shape[-1] != config.input_dim:
        raise SchemaMismatchError(
            f"The suite has {suite.motion.shape[-1]} numbers per frame but the model takes {config.input_dim} "
            f"(schema {loaded.schema}); use a dataset of the model's schema."
        )
    output = prepare_output(output)  # only once the inputs are known good: a refused run leaves nothing behind
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    settings = replace(settings, device=device.type, dtype=str(dtype).removeprefix("torch."))
    prompts, notice = plan_prompts(suite, settings.encoder or loaded.encoder, config.embedding_dim, settings)
    weights_hash = model_hash(loaded.model)
    frames = suite.motion.shape[1]
    key = cache_key({
        "model": weights_hash, "suite": suite.hash, "encoder": settings.encoder or loaded.encoder, "frames": frames, "prime": settings.prime,
        "dtype": settings.dtype, "device": settings.device, "seed": settings.seed, "noise": settings.noise,
        "noise_prompts": settings.noise_prompts, "roles": hashlib.sha256("|".join(prompts.role).encode()).hexdigest(),
    })  # fmt: skip
    n_rows = len(prompts.role)
    if not resume:
        shutil.rmtree(output / "generations" / key, ignore_errors=True)
    cache = RolloutCache(output / "generations" / key, n_rows, CHUNK_ROWS[device.type == "cuda"])
    done = 0

    def produce(lo: int, hi: int) -> dict[str, np.ndarray]:
        nonlocal done
        rows = prompts.sample[lo:hi]
        clean_rows = np.array([r == "clean" for r in prompts.role[lo:hi]])
        def advance(k: int) -> None:
            nonlocal done
            done += k
            if progress:
                progress(done, n_rows)

        rollout = generate(
            loaded.model, prompts.texts[lo:hi], suite.actions[rows], frames=frames, prime=settings.prime,
            first_frames=suite.motion[rows, 0], batch_size=settings.batch_size, device=device, dtype=dtype,
            return_action_logits=True, compile=settings.compile, progress=advance,
        )  # fmt: skip
        tf = np.full((hi - lo, frames - 1, config.output_dim), np.nan, dtype=np.float32)
        if clean_rows.any():
            tf[clean_rows] = teacher_forced(loaded.model, prompts.texts[lo:hi][clean_rows], suite.motion[rows[clean_rows]],
                                            suite.actions[rows[clean_rows]], device=device, dtype=dtype)  # fmt: skip
        head = np.where(clean_rows[:, None], rollout.action_logits.argmax(-1), -1).astype(np.int16)
        return {"motion": rollout.motion, "action_head": head, "teacher_forced": tf, "seconds": np.full(hi - lo, rollout.seconds / (hi - lo))}

    arrays, produced = cache.fill(produce)
    run = {
        "settings": asdict(settings),
        "model": loaded.provenance(),
        "model_hash": weights_hash,
        "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash, "n": len(suite.ids)},
        "cache_key": key,
        "roles": prompts.role,
        "noisy_prompts": prompts.noisy_prompts,
        "notices": [notice] if notice else [],
        "rows_generated_now": produced,
    }
    (output / RUN_FILE).write_text(json.dumps(run, indent=1, default=str))
    return score_run(output, run, suite, arrays, log_samples=log_samples)


def score(run_dir: Path, *, log_samples: bool = False) -> dict:
    """Re-score a run directory from its cached generations (no model needed)."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).is_file():
        raise RunDirectoryError(f"{run_dir} holds no {RUN_FILE}; run `stickeval run` with --output {run_dir} first.")
    run = json.loads((run_dir / RUN_FILE).read_text())
    settings = RunSettings(**run["settings"])
    suite = build_suite(settings)
    if suite.hash != run["suite"]["hash"]:
        raise RunDirectoryError(f"The suite changed since {run_dir} was generated (hash differs); rerun `stickeval run`.")
    cache = RolloutCache(run_dir / "generations" / run["cache_key"], len(run["roles"]), CHUNK_ROWS[settings.device == "cuda"])
    arrays = cache.read_all()
    if arrays is None:
        raise RunDirectoryError(f"{run_dir} has missing or corrupt generations; rerun `stickeval run ... --output {run_dir}` to regenerate them.")
    return score_run(run_dir, run, suite, arrays, log_samples=log_samples)
