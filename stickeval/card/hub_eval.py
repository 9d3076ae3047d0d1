"""A run's results as the Hub's `.eval_results/<benchmark>.yaml` entries for a StickBench benchmark.

The Hub's newer evaluation results live in model repos as YAML lists of entries, each pointing at a
benchmark dataset (`dataset.id`, `dataset.task_id`, `dataset.revision`) with one `value`. stickeval
writes one entry per run: the benchmark's task for the run's suite, the score metric's mean (4
significant digits, as the card), the run's date, notes holding stickeval's version, the run's
settings and the other headline metrics, and a source link when given. The entries are built with
huggingface_hub's own `EvalResultEntry` / `eval_result_entries_to_yaml` where the installed client
has them (1.4 and later), and as the same dicts by hand where it does not (`yaml_entry_by_hand`, tested
equal). An existing file's other entries are kept, in place; only the entry of the same benchmark
task is replaced. A run is never written for a benchmark it did not use: its suite must be one of
the benchmark's tasks, with the same content hash as the benchmark revision declares.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import yaml

from stickeval.card.model_index import SIGNIFICANT_DIGITS, unified_diff
from stickeval.data.publish import Benchmark, BenchmarkTask
from stickeval.errors import EvalResultsError, first_line

try:  # huggingface_hub >= 1.4 (both majors stickeval supports past that)
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml, parse_eval_result_entries
except ImportError:  # pragma: no cover - depends on the installed client
    EvalResultEntry = eval_result_entries_to_yaml = parse_eval_result_entries = None

RESULTS_DIR = ".eval_results"


@dataclass(frozen=True)
class EvalResultsUpdate:
    """A model repo's `.eval_results/<benchmark>.yaml` before and after writing a run's entry.

    path: the file's path in the repo; original: its text (None: the repo has no such file).
    """

    path: str
    benchmark: str
    revision: str
    task_id: str
    original: str | None
    updated: str
    entry: dict

    @property
    def current(self) -> bool:
        """True when the file already holds this run's entry (what `card --check` asks)."""
        return self.original == self.updated

    def diff(self) -> str:
        """A unified diff from the file (empty when absent) to the updated file ("" when current)."""
        return unified_diff(self.original or "", self.updated, self.path)


def results_path(benchmark_id: str) -> str:
    """Where a benchmark's entries go in a model repo: `.eval_results/<dataset name>.yaml`."""
    return f"{RESULTS_DIR}/{benchmark_id.split('/')[-1]}.yaml"


def benchmark_task(results: dict, benchmark: Benchmark, revision: str) -> BenchmarkTask:
    """The benchmark's task for the run's suite, after checking the run used that exact suite.

    Raises:
        EvalResultsError: the run's suite is not one of the benchmark's tasks (another suite, the real
            track, a user's .pt file), or its content hash is not the one `revision` declares.
    """
    suite = results["suite"]
    task = benchmark.task_for(str(suite.get("name")))
    if task is None or suite.get("version") != benchmark.version:
        have = ", ".join(sorted(benchmark.tasks))
        raise EvalResultsError(
            f"These results are on {suite.get('name')} ({suite.get('version')}), which {benchmark.repo_id} does not hold "
            f"(its suites: {have}); a benchmark only shows runs on its own suites. Run the model on one of them "
            "(`stickeval run VARIANT --suite quick`), or pass the benchmark of this run's suite."
        )
    if suite.get("hash") != task.hash:
        raise EvalResultsError(
            f"These results are on {task.suite} with suite hash {str(suite.get('hash'))[:12]} (n={suite.get('n')}), but "
            f"{benchmark.repo_id} at {revision[:12]} declares {task.hash[:12]} (n={task.n}) for it: the run used other "
            "samples (another --limit or seed). Re-run on the benchmark's suite, or push the benchmark for this one "
            "(`stickeval data push stickbench ORG/NAME --limit N`)."
        )
    return task


def _rounded(metric: dict | None) -> float | None:
    mean = (metric or {}).get("mean")
    if isinstance(mean, (int, float)) and not isinstance(mean, bool) and math.isfinite(mean):
        return float(f"{mean:.{SIGNIFICANT_DIGITS}g}")
    return None


def notes(results: dict, benchmark: Benchmark) -> str:
    """One line: stickeval's version, the run's settings, then the other headline metrics."""
    config, suite = results.get("config") or {}, results["suite"]
    settings = ", ".join(
        f"{key} {config[key]}"
        for key in ("seed", "prime", "dtype", "device", "batch_size", "limit", "noise_prompts", "encoder")
        if config.get(key) is not None
    )
    others = []
    for name, higher in benchmark.higher_is_better.items():
        if name != benchmark.score_metric:
            value = _rounded(results["metrics"].get(name))
            shown = "null" if value is None else f"{value:g}"
            others.append(f"{name} {shown} ({'higher' if higher else 'lower'} is better)")
    return f"stickeval {results['tool']['version']}; {suite['name']} n={suite['n']}; {settings}; {'; '.join(others)}"


def entry_fields(results: dict, benchmark: Benchmark, revision: str, *, source_url: str | None = None) -> dict:
    """The `EvalResultEntry` keyword arguments of a run's entry for `benchmark` at `revision`.

    Raises:
        EvalResultsError: as `benchmark_task`, or the score metric is null or absent in the results.
    """
    task = benchmark_task(results, benchmark, revision)
    score = benchmark.score_metric
    value = _rounded(results["metrics"].get(score))
    if value is None:
        why = (results["metrics"].get(score) or {}).get("note") or "it is not in these results"
        raise EvalResultsError(
            f"{score}, the score of {benchmark.repo_id}, has no value in these results ({why}); there is no result to "
            "write. Re-score the run with this stickeval (`stickeval score RUN_DIR`)."
        )
    fields = {
        "dataset_id": benchmark.repo_id,
        "task_id": task.id,
        "value": value,
        "dataset_revision": revision,
        "date": results["date"],
        "notes": notes(results, benchmark),
    }
    if source_url:
        fields["source_url"] = source_url
    return fields


def yaml_entry_by_hand(fields: dict) -> dict:
    """The `.eval_results` YAML dict of one entry, as `eval_result_entries_to_yaml` writes it (for clients without it)."""
    dataset = {"id": fields["dataset_id"], "task_id": fields["task_id"]}
    if fields.get("dataset_revision") is not None:
        dataset["revision"] = fields["dataset_revision"]
    data = {"dataset": dataset, "value": fields["value"]}
    for key, out in (("verify_token", "verifyToken"), ("date", "date")):
        if fields.get(key) is not None:
            data[out] = fields[key]
    if fields.get("source_url") is not None:
        source = {"url": fields["source_url"]}
        source.update({k: fields[f"source_{k}"] for k in ("name", "user", "org") if fields.get(f"source_{k}") is not None})
        data["source"] = source
    if fields.get("notes") is not None:
        data["notes"] = fields["notes"]
    return data


def hub_entry_fields() -> set[str]:
    """The fields of the installed client's `EvalResultEntry` (empty where it has none)."""
    return set() if EvalResultEntry is None else {f.name for f in dataclasses.fields(EvalResultEntry)}


def yaml_entry(fields: dict) -> dict:
    """One entry's YAML dict through huggingface_hub's `EvalResultEntry` where the client has it (with every field used)."""
    if not set(fields) <= hub_entry_fields():
        return yaml_entry_by_hand(fields)
    return eval_result_entries_to_yaml([EvalResultEntry(**fields)])[0]


def _key(item: dict) -> tuple | None:
    dataset = item.get("dataset") if isinstance(item, dict) else None
    return (dataset.get("id"), dataset.get("task_id")) if isinstance(dataset, dict) else None


def parse_file(text: str, path: str) -> list[dict]:
    """An existing `.eval_results` file's entries, checked with huggingface_hub's parser where present.

    Raises:
        EvalResultsError: not YAML, or not a list of entries with `dataset.id`, `dataset.task_id` and `value`.
    """
    fix = f"Fix or remove {path} in the model repo, then run again; stickeval keeps every other entry of it."
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise EvalResultsError(f"{path} is not valid YAML ({first_line(e)}). {fix}") from e
    data = [] if data is None else data
    bad = not isinstance(data, list) or any(_key(item) is None or None in _key(item) or "value" not in item for item in data)
    if not bad and parse_eval_result_entries is not None:
        try:
            parse_eval_result_entries(data)
        except (KeyError, TypeError, ValueError):
            bad = True
    if bad:
        raise EvalResultsError(f"{path} is not a list of eval results (each with dataset.id, dataset.task_id and value). {fix}")
    return data


def update_file(original: str | None, entry: dict, path: str) -> str:
    """The file with `entry` in place of the entry of the same benchmark task (or appended); others kept.

    Returns the original text unchanged when it already holds exactly these entries.
    """
    existing = parse_file(original, path) if original is not None else []
    merged, replaced = [], False
    for item in existing:
        if _key(item) == _key(entry):
            if not replaced:
                merged.append(entry)
            replaced = True
        else:
            merged.append(item)
    if not replaced:
        merged.append(entry)
    if original is not None and merged == existing:
        return original
    return yaml.safe_dump(merged, sort_keys=False, allow_unicode=True, width=10**9)


def build_update(
    results: dict, benchmark: Benchmark, revision: str, original: str | None, *, source_url: str | None = None
) -> EvalResultsUpdate:
    """Write the run's entry for `benchmark` into a model repo's file text (`original`, None if absent).

    Raises:
        EvalResultsError: as `entry_fields`, or an existing file that is not a list of entries.
    """
    path = results_path(benchmark.repo_id)
    fields = entry_fields(results, benchmark, revision, source_url=source_url)
    entry = yaml_entry(fields)
    updated = update_file(original, entry, path)
    return EvalResultsUpdate(path, benchmark.repo_id, revision, fields["task_id"], original, updated, entry)
