"""The schema of `results.json` (version `SCHEMA_VERSION`), as TypedDicts; documented in docs/results.md.

Numbers that were not computed are `null`, never a string; dates are ISO-8601; durations are seconds.
Bump `SCHEMA_VERSION` when a key changes meaning or disappears (adding keys does not bump it).
`metric_rows` turns a results document into the rows every display shows (the CLI's table, the
HTML report), so they agree on what each number is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import NotRequired, TypedDict

from stickeval.errors import ResultsFileError, first_line

SCHEMA_VERSION = 1


def read_results_file(path: str | Path, *, fix: str) -> dict:
    """A results.json of this `SCHEMA_VERSION` with its `tool`, `model`, `suite`, `config` and `metrics`
    blocks: the one reader behind `card`, `render`, `report` and `compare`.

    Args:
        path: the results.json.
        fix: the command that re-creates the file, quoted in every message (e.g. "`stickeval score runs/nano`").

    Raises:
        ResultsFileError: a missing file, unreadable JSON, another schema version, or a missing block.
    """
    path = Path(path)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsFileError(f"{path} does not exist; pass the results.json that `stickeval run VARIANT -o DIR` wrote.") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ResultsFileError(f"{path} is not readable JSON ({first_line(e)}); re-create it with {fix}.") from e
    version = results.get("schema_version") if isinstance(results, dict) else None
    if version != SCHEMA_VERSION:
        raise ResultsFileError(
            f"{path} has schema_version {version!r}, this stickeval reads {SCHEMA_VERSION}; re-score it with {fix}, "
            "or use the stickeval version that wrote it."
        )
    missing = [key for key in ("tool", "model", "suite", "config", "metrics") if not isinstance(results.get(key), dict)]
    if missing:
        raise ResultsFileError(f"{path} lacks {', '.join(missing)}; re-create it with {fix}.")
    return results


class EstimateDict(TypedDict):
    mean: float | None  # null when no sample had a defined value
    ci95: list[float | None]  # [low, high], percentile bootstrap (seeded)
    n: int  # samples the mean rests on
    std: float | None  # null for set-level statistics
    n_undefined: int  # samples left out as undefined (e.g. robustness of a text-ignoring model)
    bias: float | None  # set metrics: bootstrap estimate of the plug-in's finite-sample bias; else null


class MetricEntry(EstimateDict, total=False):
    higher_is_better: bool | None  # null: closest to the reference row is best (diversity)
    unit: str
    card_field: str | None  # the model card's model-index metric type it fills
    description: str  # one line: what it measures (the metric table's)
    note: str  # why a value is null


class ToolInfo(TypedDict):
    name: str
    version: str
    git_hash: str | None


class SuiteInfo(TypedDict):
    name: str
    version: str
    hash: str  # sha256 of the suite's ids, prompts, labels and arrays
    n: int  # the clean prompts scored
    size: NotRequired[int]  # the whole suite's samples (its test split, a .pt file's); n < size after --limit; absent in older files


class Timing(TypedDict):
    generation_seconds: float  # wall time of the generate calls behind the cached rows
    sequences_per_second: float | None
    rows_generated_now: int  # 0 when everything came from the cache
    device_name: str  # the accelerator (or CPU) that generated the rows
    prepare_seconds: float | None  # the generating invocation: suite, prompts, device copy, batch probe
    fill_seconds: float | None  # the generating invocation: generation, teacher forcing, cache writes
    scoring_seconds: float  # this invocation's scoring (the classifier fit included when not cached)


class RunConfig(TypedDict):
    """The generating run's settings (`stickeval.evaluation.run.RunSettings`, resolved) and its size."""

    suite: str  # "quick", "standard", "real", or the path of a .pt file
    limit: int | None
    noise: bool
    noise_prompts: int
    batch_size: int  # resolved
    batch_size_requested: int | str  # a number or "auto"
    device: str  # "cpu" or "cuda"
    dtype: str
    prime: str
    seed: int
    compile: bool | str
    encoder: str | None  # an override of the model's encoder, else null
    on_bad: str
    chunk_rows: int
    threads: NotRequired[int]  # the CPU threads the generating run kept busy (`device.cpu_budget`); absent in older files
    generation_threads: NotRequired[int]  # torch's threads while generating (`device.thread_plan`); absent in older files
    frames: int
    rows: int  # all rollouts: clean, anchor, other-prompt and noisy


class EvaluatorInfo(TypedDict):
    domain: str  # "stickbench" or "real"
    version: str  # e.g. "evaluator-v1"
    held_out: dict  # its own figures on its domain's test split: n, r_precision {top1..top3}, matching_score,
    # classifier_top1 (+ per action, real and time-reversed): the evaluator's reference row


class Results(TypedDict):
    schema_version: int
    tool: ToolInfo
    date: str
    model: dict  # variant, source, repo_id, revision, commit_sha, path, encoder, schema, n_params, config, base, hash
    suite: SuiteInfo
    config: RunConfig
    metrics: dict[str, MetricEntry]
    reference: dict[str, EstimateDict]  # the suite's own clips through the same pipeline
    baselines: dict[str, dict[str, EstimateDict]]  # context row (real, retrieval, first_frame, mean_pose,
    # white_noise) -> metric -> estimate: the same prompts, references, lengths and code as `metrics`
    evaluator: EvaluatorInfo | None  # the learned evaluator behind the evaluator metrics; null without one
    breakdowns: dict  # per_action: {metric: {label: EstimateDict}}; per_noise: {kind: {level: {metric: EstimateDict}}};
    # confusion: {"labels": [...], "matrix": [[int]]}, rows = true label, columns = predicted
    timing: Timing
    notices: list[str]


DIRECTIONS = {True: "higher", False: "lower", None: "closest to reference"}


@dataclass(frozen=True)
class Row:
    """One metric as displays show it.

    Attributes:
        name: the metric's key in results.json.
        value: its mean; None when undefined (see `note`).
        ci: (low, high) 95% interval; None entries when undefined.
        n: samples the value rests on.
        direction: "higher", "lower" (is better) or "closest to reference" (the reference row's value).
        reference: the like-for-like real row's value (`baselines["real"]`: another real clip of each
            prompt's action through the same code); in results without baselines (older files) the
            reference row's (the suite's own clips); None when neither has one.
        baselines: each context row's value {row name: value or None}, in results order; empty in older files.
        description: one line: what it measures.
        unit: unit of the per-sample value.
        note: why the value is undefined, or "".
    """

    name: str
    value: float | None
    ci: tuple[float | None, float | None]
    n: int
    direction: str
    reference: float | None
    description: str
    unit: str
    note: str = ""
    baselines: dict[str, float | None] = field(default_factory=dict)


def metric_rows(results: Results) -> list[Row]:
    """The display rows of a results document, in its metrics' order.

    A description missing from an older results.json is taken from the metric table.
    """
    from stickeval.metrics import METRICS  # the table imports the metric functions: only when asked

    baselines = results.get("baselines") or {}
    yardstick = baselines.get("real") or results["reference"]
    rows = []
    for name, m in results["metrics"].items():
        known = METRICS.get(name)
        rows.append(
            Row(
                name=name,
                value=m["mean"],
                ci=(m["ci95"][0], m["ci95"][1]),
                n=m["n"],
                direction=DIRECTIONS[m.get("higher_is_better")],
                reference=yardstick.get(name, {}).get("mean"),
                description=m.get("description") or (known.description if known else ""),
                unit=m.get("unit") or (known.unit if known else ""),
                note=m.get("note", ""),
                baselines={row: values[name]["mean"] if name in values else None for row, values in baselines.items()},
            )
        )
    return rows
