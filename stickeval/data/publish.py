"""StickBench as a Hub benchmark dataset: Parquet files, a dataset card and an `eval.yaml`.

`write_benchmark` lays out, in one directory, what `stickeval data push stickbench ORG/NAME`
commits: per suite (`quick`, `standard`) one Parquet file per split, which the `datasets` library
reads through the card's `configs` (one config per suite); a README.md dataset card; and an
`eval.yaml` that declares the benchmark the way the Hub's evaluation results expect
(`evaluation_framework: stickeval`, one task per suite on its test split), plus the headline metrics
with their direction and, under `stickeval`, each suite's content hash. `read_benchmark` parses
that `eval.yaml` back and refuses anything that is not a StickBench declaration, so a model's
`.eval_results/` entry only ever points at a benchmark whose suite is the run's.

The Parquet rows are the suite's samples exactly (float32 clips, int64 action ids), so the hash
recomputed from the files (`suite_from_table`) is the suite's hash.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from stickeval._io import atomic_path, write_text_atomic
from stickeval.data.schema import ACTIONS, FPS, N_FRAMES
from stickeval.data.stickbench import SEED, SIZES, VERSION, load_suite
from stickeval.data.suite import SPLITS, Suite
from stickeval.errors import BenchmarkError, MissingDependencyError

FRAMEWORK = "stickeval"
EVAL_FILE = "eval.yaml"
CARD_FILE = "README.md"
# The headline metrics, in leaderboard order: the first is the score each task reports (one value
# per task is what a `.eval_results/` entry holds); the others go into the entry's notes.
HEADLINE_METRICS = (
    ("action_accuracy", True, "stickeval's action classifier names the prompt's action (top-1)"),
    ("pose_mse", False, "MSE of the rollout against the reference clip, frames 1..T-1"),
    ("temporal_consistency", True, "jerk of the rollout matches its reference's (1 best, 0 frozen or jittery)"),
    ("robustness", True, "1 - d(noisy, clean) / d(clean, other prompt) under prompt noise"),
)
SCORE_METRIC = HEADLINE_METRICS[0][0]


@dataclass(frozen=True)
class BenchmarkTask:
    """One task of a StickBench benchmark: a suite's test split.

    id: the task id (the suite size, "quick"); suite: the suite name runs record ("stickbench-quick");
    hash: the test split's content hash, what a run's `suite.hash` must equal; n: test samples.
    """

    id: str
    suite: str
    hash: str
    n: int


@dataclass(frozen=True)
class Benchmark:
    """A StickBench declaration read from an `eval.yaml` (`read_benchmark`)."""

    repo_id: str
    version: str
    score_metric: str
    higher_is_better: dict[str, bool]
    tasks: dict[str, BenchmarkTask]  # by suite name

    def task_for(self, suite_name: str) -> BenchmarkTask | None:
        """The task whose suite is `suite_name`, if the benchmark has one."""
        return self.tasks.get(suite_name)


def task_id_of(suite_name: str) -> str | None:
    """The task id a StickBench benchmark gives a suite: its size ("stickbench-quick" -> "quick"); None otherwise."""
    size = suite_name.removeprefix("stickbench-")
    return size if size != suite_name and size in SIZES else None


def _pyarrow():
    try:
        return importlib.import_module("pyarrow"), importlib.import_module("pyarrow.parquet")
    except ImportError as e:
        raise MissingDependencyError("pyarrow", "Writing StickBench as Parquet files", "publish") from e


def suite_table(suite: Suite):
    """A pyarrow Table of a suite: id, prompt, label, motion [T][D] float32, actions [T] int64, length."""
    pa, _ = _pyarrow()
    n, t, d = suite.motion.shape
    motion = pa.FixedSizeListArray.from_arrays(pa.array(suite.motion.reshape(-1), pa.float32()), d)
    motion = pa.ListArray.from_arrays(pa.array(np.arange(n + 1) * t, pa.int32()), motion)
    actions = pa.ListArray.from_arrays(pa.array(np.arange(n + 1) * t, pa.int32()), pa.array(suite.actions.reshape(-1), pa.int64()))
    table = pa.table(
        {
            "id": pa.array(suite.ids, pa.string()),
            "prompt": pa.array(suite.prompts, pa.string()),
            "label": pa.array(suite.labels, pa.string()),
            "motion": motion,
            "actions": actions,
            "length": pa.array(suite.lengths, pa.int64()),
        }
    )
    meta = {"stickeval.suite": suite.name, "stickeval.version": suite.version, "stickeval.hash": suite.hash}
    return table.replace_schema_metadata({k.encode(): v.encode() for k, v in meta.items()})


def suite_from_table(table, *, name: str, version: str) -> Suite:
    """The Suite a `suite_table` holds (its hash recomputed from the rows)."""
    n = table.num_rows
    motion = table.column("motion").combine_chunks()
    dim = motion.type.value_type.list_size  # list<fixed_size_list<float32, D>>
    return Suite.build(
        name=name,
        version=version,
        ids=table.column("id").to_pylist(),
        prompts=table.column("prompt").to_pylist(),
        labels=table.column("label").to_pylist(),
        motion=motion.flatten().flatten().to_numpy().astype(np.float32).reshape(n, -1, dim),
        actions=table.column("actions").combine_chunks().flatten().to_numpy().astype(np.int64).reshape(n, -1),
        lengths=table.column("length").to_numpy().astype(np.int64),
    )


def data_file(size: str, split: str) -> str:
    """The path in the dataset repo of one suite split's Parquet file."""
    return f"{size}/{split}-00000-of-00001.parquet"


def write_benchmark(directory: str | Path, sizes: tuple[str, ...] = tuple(SIZES), *, limit: int | None = None) -> list[str]:
    """Write StickBench `sizes` as a Hub benchmark dataset into `directory`.

    Args:
        directory: where the files go (created if missing; existing files of the same names are replaced).
        sizes: StickBench sizes, each one task ("quick", "standard").
        limit: keep the first `limit` test samples of each suite (a run's `--limit`: its suite hash
            is then this one); the train split, on which stickeval's classifier is fitted, stays whole.

    Returns:
        The written files, relative to `directory` (Parquet files, README.md, eval.yaml).

    Raises:
        BenchmarkError: an unknown size, or no size at all.
        MissingDependencyError: pyarrow is not installed.
    """
    _, pq = _pyarrow()
    unknown = [s for s in sizes if s not in SIZES]
    if unknown or not sizes:
        raise BenchmarkError(f"Unknown StickBench size(s) {', '.join(unknown) or '(none)'}; pass --size {' or --size '.join(SIZES)}.")
    directory = Path(directory)
    written, suites = [], {}
    for size in sizes:
        for split in SPLITS:
            suite = load_suite(size, split=split, limit=limit if split == "test" else None)
            suites[size, split] = suite
            with atomic_path(directory / data_file(size, split)) as tmp:
                pq.write_table(suite_table(suite), tmp)
            written.append(data_file(size, split))
    write_text_atomic(directory / EVAL_FILE, eval_yaml(suites, limit))
    write_text_atomic(directory / CARD_FILE, dataset_card(suites, limit))
    return [*written, CARD_FILE, EVAL_FILE]


def eval_yaml(suites: dict[tuple[str, str], Suite], limit: int | None) -> str:
    """The benchmark declaration: Hub keys (name, description, evaluation_framework, tasks), metrics, hashes."""
    sizes = sorted({size for size, _ in suites}, key=list(SIZES).index)
    document = {
        "name": "StickBench",
        "description": (
            f"StickBench ({VERSION}) is a procedural text-to-stick-figure-animation benchmark: prompts and "
            f"{N_FRAMES}-frame reference clips at {FPS} fps, scored by stickeval."
        ),
        "evaluation_framework": FRAMEWORK,
        "tasks": [{"id": size, "config": size, "split": "test"} for size in sizes],
        "metrics": [{"id": m, "higher_is_better": up, "description": text} for m, up, text in HEADLINE_METRICS],
        "stickeval": {
            "version": VERSION,
            "seed": SEED,
            "score": SCORE_METRIC,
            "test_limit": limit,
            "suites": {
                size: {
                    "name": suites[size, "test"].name,
                    "hash": suites[size, "test"].hash,
                    "n": len(suites[size, "test"]),
                    "train_hash": suites[size, "train"].hash,
                    "train_n": len(suites[size, "train"]),
                }
                for size in sizes
            },
        },
    }
    header = "# The StickBench benchmark (written by `stickeval data push stickbench`); results: .eval_results/ in model repos.\n"
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def dataset_card(suites: dict[tuple[str, str], Suite], limit: int | None) -> str:
    """The dataset card: `configs` mapping each suite to its Parquet files, then what the columns hold."""
    sizes = sorted({size for size, _ in suites}, key=list(SIZES).index)
    configs = [
        {"config_name": size, "data_files": [{"split": split, "path": data_file(size, split)} for split in SPLITS]} for size in sizes
    ]
    configs[0]["default"] = True
    front = {
        "license": "mit",
        "pretty_name": "StickBench",
        "tags": ["stickeval", "motion", "text-to-motion", "benchmark"],
        "configs": configs,
    }
    rows = "\n".join(
        f"| {size} | {split} | {len(suites[size, split])} | `{suites[size, split].hash}` |" for size in sizes for split in SPLITS
    )
    limited = f"\nThe test splits hold the first {limit} samples of each suite (`--limit {limit}`).\n" if limit else ""
    return (
        f"---\n{yaml.safe_dump(front, sort_keys=False, width=100)}---\n\n# StickBench ({VERSION})\n\n"
        f"Procedural reference motion for text-to-stick-figure-animation models, regenerated bit-identically by "
        f"stickeval from seed {SEED}. Evaluate a model with `stickeval run VARIANT --suite SIZE`; publish its "
        f"results here with `stickeval card VARIANT --results results.json --eval-results ORG/NAME --push`.\n"
        f"{limited}\n| suite | split | samples | content hash (sha256) |\n|---|---|---|---|\n{rows}\n\n"
        f"Columns: `id`, `prompt`, `label` (the primary action), `motion` ({N_FRAMES} frames x 20 numbers: 5 segments "
        f"x (x1, y1, x2, y2)), `actions` (per-frame index into stickeval's {len(ACTIONS)} action names), `length` "
        f"(valid frames). The hash is stickeval's `Suite.hash` of the split; a run's results.json records it.\n"
    )


def read_benchmark(text: str, repo_id: str) -> Benchmark:
    """Parse a dataset's `eval.yaml` as a StickBench declaration.

    Raises:
        BenchmarkError: not YAML, another evaluation framework, or no StickBench suites with hashes.
    """
    fix = f"Publish StickBench there with `stickeval data push stickbench {repo_id}`, or pass a StickBench dataset id."
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise BenchmarkError(f"{repo_id}'s {EVAL_FILE} is not valid YAML; it is not a StickBench benchmark. {fix}", repo_id=repo_id) from e
    if not isinstance(document, dict) or document.get("evaluation_framework") != FRAMEWORK:
        framework = document.get("evaluation_framework") if isinstance(document, dict) else None
        raise BenchmarkError(
            f"{repo_id} is not a StickBench dataset: its {EVAL_FILE} names evaluation_framework {framework!r}, not {FRAMEWORK!r}. {fix}",
            repo_id=repo_id,
        )
    declared = document.get("stickeval") if isinstance(document.get("stickeval"), dict) else {}
    suites = declared.get("suites") if isinstance(declared.get("suites"), dict) else {}
    task_ids = {t.get("id") for t in document.get("tasks") or [] if isinstance(t, dict)}
    tasks = {}
    for size, suite in suites.items():
        if size in task_ids and isinstance(suite, dict) and isinstance(suite.get("hash"), str) and suite.get("name"):
            tasks[str(suite["name"])] = BenchmarkTask(str(size), str(suite["name"]), suite["hash"], int(suite.get("n") or 0))
    metrics = {m["id"]: bool(m.get("higher_is_better")) for m in document.get("metrics") or [] if isinstance(m, dict) and "id" in m}
    score = declared.get("score")
    if not tasks or declared.get("version") != VERSION or score not in metrics:
        raise BenchmarkError(
            f"{repo_id}'s {EVAL_FILE} declares no {VERSION} suites with their hashes and score metric; it is not a "
            f"StickBench benchmark this stickeval can write results for. {fix}",
            repo_id=repo_id,
        )
    return Benchmark(repo_id, VERSION, score, metrics, tasks)
