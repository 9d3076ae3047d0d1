"""Evaluation: suite → prompts (clean, noisy, other) → generation (cached) → scores → results.

`evaluate` runs a model on a suite and writes `results.json` (and `samples.jsonl` on request) into
a run directory; `score` re-scores a run directory from its cached generations, without the model.
The scoring itself lives in `stickeval.evaluation.scoring`; this module plans and runs the generation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch

from stickeval._io import check_output_dir, check_writable, stable_key, write_text_atomic
from stickeval.data import load_suite, suite_from_dataset
from stickeval.data.prompt_noise import NOISE_KINDS, NOISE_LEVELS, perturb
from stickeval.data.pt_dataset import read_dataset
from stickeval.data.stickbench import SIZES, sample_id
from stickeval.data.suite import Suite, select, split_of
from stickeval.device import (
    SCORING_THREADS,
    ThreadPlan,
    cpu_budget,
    current_rank,
    device_name,
    on_device,
    resolve_device,
    resolve_dtype,
    thread_plan,
    torch_threads,
)
from stickeval.distributed import process_group
from stickeval.errors import (
    DatasetError,
    GenerationInputError,
    RunDirectoryError,
    RunInterrupted,
    SchemaMismatchError,
    TextEncoderError,
)
from stickeval.evaluation.cache import RolloutCache
from stickeval.evaluation.scoring import SuiteScores, score_run, score_suite
from stickeval.generation import PRIMES, generate, resolve_batch_size, teacher_forced
from stickeval.metrics._threads import one_thread, worker_limit
from stickeval.metrics.robustness import other_prompt_indices
from stickeval.text import get_encoder

log = logging.getLogger(__name__)

RUN_FILE = "run.json"  # what `score` needs to rebuild the run: settings, model block, cache key, chunk size
# Everything `run`, `score` and `report` write into a run directory: what `--force` replaces.
RUN_OUTPUTS = (RUN_FILE, "results.json", "samples.jsonl", "report.html", "report.md", "generations")
CHUNK_ROWS = {False: 256, True: 1024}  # rows per cached chunk (and per generate call), CPU / CUDA, before rounding
MIN_PROMPTS = 2  # the distribution metrics (Fréchet distance, diversity) compare sets of at least 2 clips


@dataclass(frozen=True)
class RunSettings:
    """How a run generates and scores; recorded in results.json, and (but for `limit` and
    `on_bad`, which change the suite and so its hash, and `chunk_rows`, which only cuts the rows into
    files) in the generation cache's key.

    suite: "quick", "standard", "real", or a path to a user `.pt` dataset.
    noise_prompts: how many prompts (the first ones) are also generated under each noise kind and
        level; robustness rests on these (6 kinds x 3 levels x noise_prompts extra rollouts).
    encoder: the text encoder, overriding the one the model names.
    on_bad: a `.pt` dataset's bad samples: "fail" (default) or "skip" (counted in the notices).
    threads: the CPU threads the run may keep busy (`device.cpu_budget`: default OMP_NUM_THREADS,
        else the CPUs of the process's affinity); recorded resolved. On the CPU, generation runs on
        all but one of them and the reference and context rows are scored beside it on the last
        (`device.thread_plan`); the generating thread count is in the cache key, because rollouts
        on 1 and 2 torch threads differ by float rounding.
    chunk_rows: rows per cached chunk, the unit of resuming and of sharing the work between torchrun
        ranks (a batch never spans two chunks); default about 256 on CPU and 1,024 on CUDA, rounded
        up to whole batches. Never derived from the number of processes, so a run resumes on any.
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
    encoder: str | None = None
    on_bad: str = "fail"
    chunk_rows: int | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.limit is not None and self.limit < MIN_PROMPTS:
            problems.append(
                f"--limit must be at least {MIN_PROMPTS} (Fréchet distance and diversity compare sets of clips), got {self.limit}"
            )
        if self.seed < 0:
            problems.append(f"--seed must be 0 or more, got {self.seed}")
        if self.threads is not None and self.threads < 1:
            problems.append(f"--threads must be at least 1, got {self.threads}")
        if self.noise and self.noise_prompts < 2:
            problems.append(
                f"--noise-prompts must be at least 2 (robustness compares prompts), got {self.noise_prompts}; or pass --no-noise"
            )
        if self.prime not in PRIMES:
            problems.append(f"--prime must be one of {', '.join(PRIMES)}, got {self.prime!r}")
        if self.on_bad not in ("fail", "skip"):
            problems.append(f"--on-bad must be fail or skip, got {self.on_bad!r}")
        if self.chunk_rows is not None and self.chunk_rows < 1:
            problems.append(f"--chunk-rows must be at least 1, got {self.chunk_rows}")
        if problems:
            raise GenerationInputError("; ".join(problems) + ".")


@dataclass(frozen=True)
class Prompts:
    """Every rollout a run needs, as rows: the clean suite first, then the robustness rows."""

    texts: np.ndarray  # float32 [M, E]
    sample: np.ndarray  # int [M]: the suite sample whose first frame and action track the row uses
    role: list[str]  # "clean", "anchor", "other", or "noise:<kind>:<level>"
    noisy_prompts: dict[str, list[str]]  # role -> the perturbed prompt of each noise-subset sample


def build_suite(settings: RunSettings) -> tuple[Suite, list[str]]:
    """The suite's test split (a user dataset whole), and notices about it (skipped samples)."""
    suite, _, notices = _build_suite(settings)
    return suite, notices


def _build_suite(settings: RunSettings) -> tuple[Suite, int, list[str]]:
    """`build_suite`, and the whole suite's size before `--limit` (results.json `suite.size`)."""
    path = Path(settings.suite)
    if path.suffix == ".pt":
        suite = suite_from_dataset(path, on_bad=settings.on_bad)
        size, notices = len(suite.ids), []
        if settings.on_bad == "skip":
            _, problems, total = read_dataset(path)
            if total > len(suite.ids):
                notices.append(f"{total - len(suite.ids)} of {total} samples of {path} were bad and skipped ({problems[0]}; ...).")
        if settings.limit:
            suite = select(suite, np.arange(min(settings.limit, len(suite.ids))))
        return suite, size, notices + _limit_notice(settings, suite)
    if path.suffix:
        raise DatasetError(f"{path} is not a Stick-Gen .pt dataset; pass a .pt file, or a suite name (quick, standard, real).")
    suite = load_suite(settings.suite, split="test", limit=settings.limit)
    return suite, _suite_size(settings, suite), _limit_notice(settings, suite)


def _suite_size(settings: RunSettings, suite: Suite) -> int:
    """The samples of the built-in suite's whole test split, of which `suite` may be the first `--limit`."""
    if settings.limit is None or settings.limit > len(suite.ids):
        return len(suite.ids)
    if settings.suite in SIZES:  # StickBench: its test ids, counted without building the clips
        return sum(split_of(sample_id(index)) == "test" for index in range(SIZES[settings.suite]))
    return len(load_suite(settings.suite, split="test").ids)


def _limit_notice(settings: RunSettings, suite: Suite) -> list[str]:
    """A notice when --limit asks for more samples than the suite has (then all of them are used)."""
    if settings.limit is None or settings.limit <= len(suite.ids):
        return []
    return [f"--limit {settings.limit} is more than the {len(suite.ids)} samples of {suite.name}; all {len(suite.ids)} were used."]


def plan_prompts(suite: Suite, settings: RunSettings, encoder_name: str | None, embedding_dim: int) -> tuple[Prompts, str | None]:
    """The rows to generate, and a notice when robustness had to be skipped.

    Clean rows use the dataset's stored embeddings when it has them, else the encoder. The
    robustness triple (clean, noisy, other prompt) must share one encoder, so with stored
    embeddings the noise subset is generated once more from encoded prompts ("anchor" rows).
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
        if suite.embeddings is None or settings.encoder is not None:
            raise  # no way to embed the prompts, or the user asked for this encoder
        notice = f"robustness skipped: {e}"
    clean = suite.embeddings if suite.embeddings is not None else encoder.encode(suite.prompts)
    n = len(suite.prompts)
    texts, sample, role, noisy = [clean], [np.arange(n)], ["clean"] * n, {}
    if settings.noise and encoder is not None:
        k = min(n, settings.noise_prompts)
        if k < 2:
            return Prompts(clean.astype(np.float32), np.arange(n), role, {}), "robustness skipped: it needs at least 2 prompts."
        encoded = clean[:k] if suite.embeddings is None else encoder.encode(suite.prompts[:k])
        if suite.embeddings is not None:
            texts.append(encoded)
            sample.append(np.arange(k))
            role += ["anchor"] * k
        texts.append(encoded[other_prompt_indices(suite.labels[:k], seed=settings.seed)])
        sample.append(np.arange(k))
        role += ["other"] * k
        for kind in NOISE_KINDS:
            for level in NOISE_LEVELS:
                name = f"noise:{kind}:{level}"
                noisy[name] = [perturb(p, kind, level, seed=settings.seed) for p in suite.prompts[:k]]
                texts.append(encoder.encode(noisy[name]))
                sample.append(np.arange(k))
                role += [name] * k
    elif settings.noise and notice:
        log.warning(notice)
    return Prompts(np.concatenate(texts).astype(np.float32), np.concatenate(sample), role, noisy), notice


def model_hash(model: torch.nn.Module) -> str:
    """sha256 of the weights (names, shapes, bytes): the cache key's model part, whatever the source."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def chunk_rows(batch_size: int, device: torch.device) -> int:
    """Rows per cached chunk (and per `generate` call): about `CHUNK_ROWS` for the device, rounded up
    to a whole number of batches, so that a chunk is at least one batch and no batch is cut short."""
    return batch_size * -(-CHUNK_ROWS[device.type == "cuda"] // batch_size)


def evaluate(
    loaded,
    settings: RunSettings,
    output: Path,
    *,
    resume: bool = True,
    force: bool = False,
    log_samples: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict | None:
    """Generate for every prompt of the suite (reusing cached rows) and score; write results.json.

    Under torchrun each rank generates its `RolloutCache.shard` of the chunks (the rows and their
    settings are the same as on one process, so are the numbers), waits for the others, and rank 0
    alone scores and writes; the other ranks return None.

    The batch size is resolved once ("auto" is probed once) and the model is put on the device
    once; both serve every chunk, every noise condition and the teacher-forced pass. The results'
    rows that no model output enters (reference, context) are scored in a thread while the model
    generates, on a GPU and, given at least 2 CPU threads, on the CPU (`device.thread_plan`: then
    generation runs on the other threads). run.json records the resolved batch size, threads and
    the chunk size that `score` reads the cache with.

    Args:
        loaded: a `stickeval.zoo.LoadedModel`.
        settings: RunSettings.
        output: run directory, created once every input has been checked (a refused run leaves
            nothing behind); generations are cached under it.
        resume: reuse this configuration's cached generations (an interrupted run continues
            where it stopped); False discards them and generates everything again.
        force: write into `output` even when it holds a run of another model or suite (whose
            files are then removed, `RUN_OUTPUTS`) or other files (which are kept).
        log_samples: also write samples.jsonl (one line per sample with its scores).
        progress: called with (rows generated, rows to generate) after each generated batch and
            each chunk found in the cache, which leaves the rows to generate (on rank 0, for its
            own share of the rows): a fully cached run reports (0, 0).

    Returns:
        The results document (also written to `output/results.json`); None on a rank other than 0.

    Raises:
        OutputPathError: `output` is a file, below a file, or not writable (checked first), or,
            without `force`, a directory that holds a run of another model or suite, or other files.
        DatasetError, UnknownSuiteError, TextEncoderError, GenerationInputError: as their names say
            (a suite of fewer than `MIN_PROMPTS` samples is a GenerationInputError).
        DeviceError: an unknown device or dtype, or a bad OMP_NUM_THREADS.
        SchemaMismatchError: the suite's motion or stored embeddings have another width than the
            model takes (20 vs 48 numbers per frame, 512 vs 1024 embedding dims).
        RunInterrupted: Ctrl-C (a KeyboardInterrupt) during generation; says how many rows are cached.
        RunDirectoryError: a chunk could not be saved (full disk, permissions).
        DistributedError: under torchrun, another rank failed or did not finish within the timeout.
    """
    started = time.perf_counter()
    output = Path(output)
    check_writable(output, directory=True)
    replaces = _claim_run_directory(output, loaded, settings, force=force)
    config = loaded.config
    suite, size, notices = _build_suite(settings)
    _check_suite(suite, loaded, settings)
    device = resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, device)
    threads = thread_plan(device, settings.threads)
    encoder = settings.encoder or loaded.encoder
    prompts, notice = plan_prompts(suite, settings, encoder, config.embedding_dim)
    notices += [notice] if notice else []
    frames = suite.motion.shape[1]
    n_rows = len(prompts.role)
    engine = on_device(loaded.model, device, dtype)  # the run's one device copy (none when nothing changes)
    with process_group(device) as group, _scored_while_generating(threads, group.rank.is_main, settings, suite) as suite_scores:
        # every rank must agree on the batch (and so on the cache key): the smallest any rank's probe found
        batch_size = int(group.all_reduce([resolve_batch_size(engine, settings.batch_size, n_rows, frames)], op="min")[0])
        chunk = settings.chunk_rows or chunk_rows(batch_size, device)
        batch_size = min(batch_size, chunk)
        requested = settings.batch_size
        settings = replace(
            settings,
            device=device.type,
            dtype=str(dtype).removeprefix("torch."),
            batch_size=batch_size,
            chunk_rows=chunk,
            threads=threads.budget,
        )
        weights_hash = model_hash(loaded.model)
        generation = {k: v for k, v in asdict(settings).items() if k not in ("limit", "on_bad", "chunk_rows", "threads")}
        if device.type == "cpu":  # torch's CPU kernels round differently on 1 and 2 threads; a GPU's do not depend on them
            generation["generation_threads"] = threads.generation
        key = stable_key(
            {
                "model": weights_hash,
                "suite": suite.hash,
                "encoder": encoder,
                "frames": frames,
                **generation,
                "roles": hashlib.sha256("|".join(prompts.role).encode()).hexdigest(),
            }
        )
        output.mkdir(parents=True, exist_ok=True)
        if group.rank.is_main:
            for name in replaces:  # another run's files, replaced with --force
                path = output / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            if not resume:
                shutil.rmtree(output / "generations" / key, ignore_errors=True)
        group.barrier("clearing the cache")  # no rank writes a chunk that rank 0 then removes
        cache = RolloutCache(output / "generations" / key, n_rows, chunk)
        run = {
            "settings": {**asdict(settings), "batch_size_requested": requested, "generation_threads": threads.generation},
            "chunk_rows": cache.chunk,
            "model": loaded.to_dict(),
            "model_hash": weights_hash,
            "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash, "n": len(suite.ids), "size": size},
            "cache_key": key,
            "roles": prompts.role,
            "noisy_prompts": prompts.noisy_prompts,
            "notices": notices,
            "rows_generated_now": 0,
            "processes": group.rank.world_size,
            "device_name": device_name(device),
        }
        if group.rank.is_main:  # before generating: an interrupted run's directory says whose it is (and `score` what is missing)
            write_text_atomic(output / RUN_FILE, json.dumps(run, indent=1, default=str))
        shard = cache.shard(group.rank.rank, group.rank.world_size)
        share, done, cached = sum(hi - lo for lo, hi in shard), 0, 0

        def show() -> None:
            if progress and group.rank.is_main:
                progress(done, share - cached)

        def advance(k: int) -> None:
            nonlocal done
            done += k
            show()

        def found(k: int) -> None:
            nonlocal cached
            cached += k
            show()

        def produce(lo: int, hi: int) -> dict[str, np.ndarray]:
            rows = prompts.sample[lo:hi]
            clean = np.array([r == "clean" for r in prompts.role[lo:hi]])
            rollout = generate(
                engine,
                prompts.texts[lo:hi],
                suite.actions[rows],
                frames=frames,
                prime=settings.prime,
                first_frames=suite.motion[rows, 0],
                batch_size=batch_size,
                device=device,
                dtype=dtype,
                return_action_logits=True,
                compile=settings.compile,
                progress=advance,
            )
            tf = np.full((hi - lo, frames - 1, config.output_dim), np.nan, dtype=np.float32)
            if clean.any():
                tf[clean] = teacher_forced(
                    engine,
                    prompts.texts[lo:hi][clean],
                    suite.motion[rows[clean]],
                    suite.actions[rows[clean]],
                    batch_size=batch_size,
                    device=device,
                    dtype=dtype,
                )
            return {
                "motion": rollout.motion,
                "action_logits": rollout.action_logits.astype(np.float16),
                "teacher_forced": tf,
                "seconds": np.full(hi - lo, rollout.seconds / (hi - lo)),
            }

        prepared = time.perf_counter()
        try:
            produced = cache.fill(produce, rank=group.rank.rank, world_size=group.rank.world_size, done=found)
        except KeyboardInterrupt:
            raise RunInterrupted(cache.cached_rows(), n_rows, str(output)) from None
        group.barrier("generating their rows")
        produced = int(group.all_reduce([produced])[0])
    if not group.rank.is_main:
        return None  # rank 0 alone reads every rank's chunks, scores and writes
    arrays, problems = cache.read_all()
    if arrays is None:  # another process removed or damaged a chunk after it was checked
        raise RunDirectoryError(f"{output}: cached generations {problems[0]}; run the same command again to regenerate them.")
    run |= {
        "rows_generated_now": produced,
        # wall time of this invocation before scoring: suite, prompts, device copy and batch probe;
        # then generation, teacher forcing and cache writes (compilation included when --compile),
        # until the slowest rank has saved its chunks
        "prepare_seconds": prepared - started,
        "fill_seconds": time.perf_counter() - prepared,
    }
    write_text_atomic(output / RUN_FILE, json.dumps(run, indent=1, default=str))
    with _scoring_threads(threads.budget):
        return score_run(output, run, suite, arrays, log_samples=log_samples, suite_scores=suite_scores())


def _claim_run_directory(output: Path, loaded, settings: RunSettings, *, force: bool) -> tuple[str, ...]:
    """Check that the run may write into `output` (`output_dir.check_output_dir`): new, empty, or a run
    of the same model on the same suite. Returns the files of another run that `force` replaces
    (`RUN_OUTPUTS`), else ().

    Raises:
        OutputPathError: without `force`, `output` holds a run of another model or suite, or other files.
    """
    if force and not current_rank().is_main:
        return ()  # rank 0 checks and clears the directory

    def other_run(run_file: Path) -> str | None:
        try:
            run = json.loads(run_file.read_text())
            model, suite, suite_name = run["model"], run["settings"]["suite"], run["suite"]["name"]
        except (OSError, ValueError, KeyError, TypeError):
            return f"a {RUN_FILE} this stickeval cannot read"
        if _model_identity(model) == _model_identity(loaded.to_dict()) and suite == settings.suite:
            return None
        return f"a run of {model.get('variant')} on {suite_name}"

    holds_run = check_output_dir(output, marker=RUN_FILE, what="stickeval run", other_job=other_run, force=force)
    if holds_run and force and other_run(output / RUN_FILE) is not None:
        return RUN_OUTPUTS
    return ()


def _model_identity(model: dict) -> tuple:
    """What makes two run.json model blocks the same model: the Hub repo, else the directory of the weights."""
    return (model.get("source"), model.get("repo_id") or model.get("path") or model.get("variant"))


@contextlib.contextmanager
def _scored_while_generating(
    threads: ThreadPlan, main: bool, settings: RunSettings, suite: Suite
) -> Iterator[Callable[[], SuiteScores | None]]:
    """Generation's threads: this thread's torch threads (`ThreadPlan.generation`) and, when the plan
    has a thread for it (`ThreadPlan.score_beside`), the rows of the results that no model output
    enters (`scoring.score_suite`: the reference and context rows, about 5 s of the standard suite's
    scoring on an H200 host) scored in a thread while the model generates. Yields a function that
    returns them once the block is left (None without that thread, or on a rank other than 0: there
    `score_run` scores them itself, to the same figures).

    BLAS is limited to one thread from this thread, as OpenBLAS requires; that limit also sets this
    thread's torch threads (torch's OpenMP pool is one of those limited), so generation's count is set
    after it. The scoring thread starts last: its one torch thread is then the setting that the
    threads it starts take."""
    if not threads.score_beside or not main:
        with torch_threads(threads.generation):
            yield lambda: None
        return
    with one_thread(), torch_threads(threads.generation):
        pool = ThreadPoolExecutor(1, thread_name_prefix="suite-scores")
        future = pool.submit(_score_suite_on_threads, asdict(settings), suite, threads.scoring_workers)
        try:
            yield future.result
        except BaseException:
            pool.shutdown(wait=False)  # an interrupted or failed run says so now, not after these rows
            raise
        pool.shutdown()


def _score_suite_on_threads(settings: dict, suite: Suite, workers: int) -> SuiteScores:
    with _scoring_threads(workers):
        return score_suite(settings, suite)


@contextlib.contextmanager
def _scoring_threads(workers: int) -> Iterator[None]:
    """Scoring's threads: at most `workers` side by side (`metrics._threads.worker_limit`), each
    running torch on `SCORING_THREADS` (the threads scoring starts take the last setting made)."""
    with torch_threads(SCORING_THREADS), worker_limit(workers):
        yield


def _check_suite(suite: Suite, loaded, settings: RunSettings) -> None:
    """Refuse, before any work, a suite too small to score or whose frames or stored prompt embeddings
    the model cannot take."""
    if len(suite.ids) < MIN_PROMPTS:
        raise GenerationInputError(
            f"{settings.suite} has {len(suite.ids)} sample(s); a run needs at least {MIN_PROMPTS} "
            "(Fréchet distance and diversity compare sets of clips)."
        )
    config = loaded.config
    if suite.motion.shape[-1] != config.input_dim:
        raise SchemaMismatchError(
            f"The suite has {suite.motion.shape[-1]} numbers per frame but the model takes {config.input_dim} "
            f"(schema {loaded.schema}); use a dataset of the model's schema."
        )
    if suite.embeddings is not None and suite.embeddings.shape[1] != config.embedding_dim:
        raise SchemaMismatchError(
            f"{settings.suite} stores {suite.embeddings.shape[1]}-dim prompt embeddings but the model takes "
            f"{config.embedding_dim}-dim ones; embed the prompts with the model's text encoder "
            f"({loaded.encoder or 'see its config.json'}), or drop the 'embedding' field so stickeval encodes them."
        )


def read_run(run_dir: Path) -> tuple[dict, RunSettings]:
    """A run directory's run.json and its settings: what `score`, `render` and `report` need without the model.

    Raises:
        RunDirectoryError: the directory does not exist, holds no run.json, or it is unreadable.
    """
    path = run_dir / RUN_FILE
    if not run_dir.exists():
        raise RunDirectoryError(f"{run_dir} does not exist; pass the directory `stickeval run` wrote (its -o), e.g. runs/<variant>.")
    if not path.is_file():
        raise RunDirectoryError(f"{run_dir} holds no {RUN_FILE}; run `stickeval run` with -o {run_dir} first.")
    try:
        run = json.loads(path.read_text())
        known = {f.name for f in fields(RunSettings)}
        int(run["chunk_rows"])
        return run, RunSettings(**{k: v for k, v in run["settings"].items() if k in known})
    except (ValueError, KeyError, TypeError) as e:
        raise RunDirectoryError(
            f"{path} is unreadable or from another stickeval version ({type(e).__name__}: {e}); rerun `stickeval run ... -o {run_dir}`."
        ) from e


def score(run_dir: Path, *, log_samples: bool = False, threads: int | None = None) -> dict:
    """Re-score a run directory from its cached generations (no model needed; nothing is generated).

    Args:
        run_dir: a directory written by `evaluate`.
        log_samples: also write samples.jsonl.
        threads: the CPU threads scoring may keep busy (`device.cpu_budget`); the figures do not
            depend on it. results.json keeps the generating run's `config.threads`.

    Raises:
        RunDirectoryError: no such directory, no run there, an unreadable run.json, a changed suite,
            or missing or corrupt generations (each names the command that fixes it).
        DeviceError: `threads` below 1, or a bad OMP_NUM_THREADS.
    """
    budget = cpu_budget(threads)  # a bad --threads or OMP_NUM_THREADS fails before the work
    run_dir = Path(run_dir)
    run, settings = read_run(run_dir)
    suite, _ = build_suite(settings)
    if suite.hash != run["suite"]["hash"]:
        raise RunDirectoryError(f"The suite changed since {run_dir} was generated (hash differs); rerun `stickeval run`.")
    cache = RolloutCache(run_dir / "generations" / run["cache_key"], len(run["roles"]), int(run["chunk_rows"]))
    arrays, problems = cache.read_all()
    if arrays is None:
        more = f" (and {len(problems) - 1} more chunk(s))" if len(problems) > 1 else ""
        variant = run.get("model", {}).get("variant") or "VARIANT"
        raise RunDirectoryError(
            f"{run_dir}: cached generations {problems[0]}{more}; `stickeval score` never generates: run "
            f"`stickeval run {variant} -o {run_dir} --resume` (with the run's other options) to regenerate them."
        )
    with _scoring_threads(budget):
        return score_run(run_dir, run, suite, arrays, log_samples=log_samples)
