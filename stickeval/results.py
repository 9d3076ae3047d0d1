"""The schema of `results.json` (version `SCHEMA_VERSION`), as TypedDicts; documented in docs/results.md.

Numbers that were not computed are `null`, never a string; dates are ISO-8601; durations are seconds.
Bump `SCHEMA_VERSION` when a key changes meaning or disappears (adding keys does not bump it).
"""

from __future__ import annotations

from typing import TypedDict

SCHEMA_VERSION = 1


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
    note: str  # why a value is null


class ToolInfo(TypedDict):
    name: str
    version: str
    git_hash: str | None


class SuiteInfo(TypedDict):
    name: str
    version: str
    hash: str  # sha256 of the suite's ids, prompts, labels and arrays
    n: int


class Timing(TypedDict):
    generation_seconds: float  # wall time of the generate calls behind the cached rows
    sequences_per_second: float | None
    rows_generated_now: int  # 0 when everything came from the cache
    device_name: str  # the accelerator (or CPU) that generated the rows


class Results(TypedDict):
    schema_version: int
    tool: ToolInfo
    date: str
    model: dict  # variant, source, repo_id, revision, commit_sha, path, encoder, schema, n_params, config, base, hash
    suite: SuiteInfo
    config: dict  # RunSettings fields (device and dtype resolved) + frames + rows
    metrics: dict[str, MetricEntry]
    reference: dict[str, EstimateDict]  # the suite's own clips through the same pipeline
    breakdowns: dict  # per_action: {metric: {label: EstimateDict}}; per_noise: {kind: {level: {...}}}
    timing: Timing
    notices: list[str]
