"""Model cards: set a card's `model-index` metrics from a results.json, keeping every other byte.

A YAML round-trip would drop the front matter's comments, quoting and key order, so the card is
edited as text: PyYAML's composer gives the position of every node, the values of the run's metrics
are replaced in place (`TBD` -> number), missing metric entries and a missing result block are
inserted as new lines, and nothing else changes. The result is parsed back with huggingface_hub's
own model-card parser (`ModelCard`, i.e. `model_index_to_eval_results`) before it is returned, and
the list of changes is read from that parse, not from the edit.

The numbers of one dataset are never written under another dataset's name: a run's dataset is its
suite (name and version), and only a run on a user's own `.pt` file may name the card's dataset
instead (`dataset_name`/`dataset_type`, e.g. the curated SFT file the published SFT cards name).
Nor are a subset's numbers written as the whole suite's: a `--limit` run is refused, or, when the
caller allows it, written under a dataset name that says which subset it is (`subset_of`).
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from huggingface_hub import ModelCard
from yaml.nodes import Node, ScalarNode, SequenceNode

from stickeval.card.yaml_edit import YamlEditor, child, require_block_style, scalar_token
from stickeval.errors import CardError, ResultsFileError, first_line
from stickeval.evaluation.results import read_results_file

# The model-index metric types stickeval fills (each metric's `card_field` in results.json), in card
# order, with the display name a new entry gets (the published cards' own names where they have one).
CARD_METRIC_NAMES = {
    "mse": "Pose MSE",
    "temporal_consistency": "Temporal Consistency",
    "accuracy": "Action Classification Accuracy",
    "robustness": "Robustness",
}
DEFAULT_TASK = {"type": "text-to-animation", "name": "Text-to-Animation Generation"}  # the published cards' task
USER_DATA_VERSION = "stick-gen-pt"  # suite version of a run on a user's .pt file (stickeval.data)
SIGNIFICANT_DIGITS = 4  # a card value carries 4 significant digits; results.json keeps full precision
TBD = "TBD"
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")  # huggingface_hub's


@dataclass(frozen=True)
class Dataset:
    """A model-index dataset: `name` and `type` (the Hub's dataset id, or a suite version)."""

    name: str
    type: str

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


@dataclass(frozen=True)
class Change:
    """One value that differs between the card and the results.

    where: "model-index" or "body" (a metrics table in the card's text).
    old: the card's value as written (None: the entry or block is not in the card).
    """

    where: str
    dataset: Dataset
    metric: str
    old: str | None
    new: str

    def describe(self) -> str:
        """One line, e.g. `mse on StickBench (stickbench-v1): TBD -> 54.23`."""
        old = "missing" if self.old is None else self.old
        where = " (body table)" if self.where == "body" else ""
        return f"{self.metric} on {self.dataset}{where}: {old} -> {self.new}"


@dataclass(frozen=True)
class CardUpdate:
    """A card before and after setting the run's metrics."""

    original: str
    updated: str
    dataset: Dataset
    changes: list[Change]
    notices: list[str] = field(default_factory=list)  # values left TBD, a block added for another dataset

    @property
    def current(self) -> bool:
        """True when the card already holds the results' values (what `card --check` asks)."""
        return self.original == self.updated

    def diff(self, name: str = "README.md") -> str:
        """A unified diff from the card to the updated card ("" when current)."""
        return unified_diff(self.original, self.updated, name)


def unified_diff(original: str, updated: str, name: str) -> str:
    """A unified diff of a repo file's two texts, `a/name` to `b/name` ("" when equal)."""
    lines = difflib.unified_diff(original.splitlines(keepends=True), updated.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ---- results.json


def read_results(path: str | Path) -> dict:
    """A results.json written by `stickeval run`/`score`, checked for what a card needs.

    Raises:
        ResultsFileError: missing or unreadable file, another schema version, no suite or metrics, or
            none of the card's metrics (`CARD_METRIC_NAMES`).
    """
    results = read_results_file(path, fix="`stickeval score RUN_DIR`")
    fields_present = {m.get("card_field") for m in results["metrics"].values() if isinstance(m, dict)}
    if not fields_present & set(CARD_METRIC_NAMES):
        raise ResultsFileError(
            f"{path} has none of the card's metrics ({', '.join(CARD_METRIC_NAMES)}); re-score the run with this "
            "stickeval (`stickeval score RUN_DIR`) and pass the new results.json."
        )
    return results


def format_value(value: float) -> str:
    """A metric value as the card writes it: `SIGNIFICANT_DIGITS` significant digits, a YAML float.

    Examples: 54.23213 -> "54.23", 0.031250 -> "0.03125", 24471.96 -> "24470.0", 1.23456e-7 -> "1.235e-07".
    """
    return scalar_token(float(f"{value:.{SIGNIFICANT_DIGITS}g}"))


def card_values(results: dict) -> tuple[dict[str, float | None], list[str]]:
    """{card metric type: rounded value, or None when the run has no value for it} and a notice per None.

    A metric is None when its mean is null (e.g. robustness of a model that ignores its text) or
    when the run did not compute it at all (e.g. robustness without the text encoder).
    """
    by_field = {m.get("card_field"): (name, m) for name, m in results["metrics"].items() if isinstance(m, dict)}
    values: dict[str, float | None] = {}
    notices = []
    for card_field in CARD_METRIC_NAMES:
        name, metric = by_field.get(card_field, (None, {}))
        mean = metric.get("mean")
        if isinstance(mean, (int, float)) and not isinstance(mean, bool) and math.isfinite(mean):
            values[card_field] = float(f"{mean:.{SIGNIFICANT_DIGITS}g}")
            continue
        values[card_field] = None
        if name is None:
            notices.append(f"{card_field} is not in these results (see their notices); the card keeps {TBD} for it.")
        else:
            why = f": {metric['note']}" if metric.get("note") else ""
            notices.append(f"{card_field} ({name}) is null in these results{why}; the card keeps {TBD} for it.")
    return values, notices


def subset_of(results: dict) -> str | None:
    """Which part of its suite a run scored, e.g. "first 16 of 127 prompts"; None for the whole suite.

    results.json records the suite's whole size (`suite.size`) beside the prompts scored (`suite.n`);
    results written before `size` existed count as a subset whenever `config.limit` could have cut
    the suite (a limit no larger than n).
    """
    suite, limit = results["suite"], (results.get("config") or {}).get("limit")
    n, size = suite.get("n"), suite.get("size")
    if isinstance(size, int):
        return f"first {n} of {size} prompts" if n < size else None
    if limit is None or limit > n:
        return None
    return f"first {n} prompts"


def run_dataset(results: dict, dataset_name: str | None = None, dataset_type: str | None = None, *, allow_subset: bool = False) -> Dataset:
    """The dataset a run's numbers belong to: its suite, or the user's name for their own `.pt` data.

    A run on a `--limit` subset is refused unless `allow_subset`; then the dataset's name says which
    subset (`"stickbench-quick (first 16 of 127 prompts)"`), so its block is never the whole suite's.

    Raises:
        CardError: only one of `dataset_name`/`dataset_type`, a name for a run on a built-in suite,
            or a subset without `allow_subset`.
    """
    suite = results["suite"]
    if (dataset_name is None) != (dataset_type is None):
        raise CardError("--dataset-name and --dataset-type go together: pass both (the card's dataset name and type), or neither.")
    if dataset_name is not None and suite.get("version") != USER_DATA_VERSION:
        raise CardError(
            f"These results are on the built-in suite {suite['name']} ({suite['version']}), not on '{dataset_name}'; "
            f"their numbers cannot go under that name. Drop --dataset-name to add a {suite['name']} block, or evaluate "
            f"on that dataset's file: `stickeval run VARIANT --data FILE.pt`."
        )
    dataset = Dataset(str(suite["name"]), str(suite["version"])) if dataset_name is None else Dataset(dataset_name, dataset_type)
    subset = subset_of(results)
    if subset is None:
        return dataset
    if not allow_subset:
        raise CardError(
            f"These results are on the {subset} of {suite['name']} (a --limit run), not the whole suite, and a card's "
            f"numbers stand for the whole of {dataset.name}. Run without --limit, or pass --allow-subset to write them "
            f"under the dataset name '{dataset.name} ({subset})'."
        )
    return Dataset(f"{dataset.name} ({subset})", dataset.type)


def metrics_config(results: dict) -> str:
    """The metric definitions' version written into each metric's `config`: the stickeval that scored the run."""
    return f"stickeval-{results['tool']['version']}"


# ---- the card


def update_card(
    text: str, results: dict, *, dataset_name: str | None = None, dataset_type: str | None = None, allow_subset: bool = False
) -> CardUpdate:
    """Set the run's metrics in a card's model-index (and in a body metrics table), keeping all else.

    The result block whose dataset is the run's (`run_dataset`) gets the values of `mse`,
    `temporal_consistency`, `accuracy` and `robustness` and their `config`; entries it lacks are
    added; when no block has that dataset, a new block is added after the others (other blocks keep
    their values). Metrics the run could not compute keep `TBD`. When the block already existed, a
    body table row `| <metric name or type> | TBD or a number |` is filled too.

    Args:
        text: the card (README.md), front matter included.
        results: a results.json document (`read_results`).
        dataset_name, dataset_type: the card's dataset, for a run on a user's `.pt` file of it.
        allow_subset: write a `--limit` run's numbers, under a dataset name that names the subset
            (`run_dataset`); without it such a run is refused.

    Returns:
        The original and updated card, the dataset written, the changes and notices.

    Raises:
        CardError: no front matter, invalid YAML, a model-index huggingface_hub cannot parse, a
            layout stickeval cannot edit in place (flow style, several models), bad dataset flags, or
            results of a subset of the suite without `allow_subset`.
    """
    dataset = run_dataset(results, dataset_name, dataset_type, allow_subset=allow_subset)
    values, notices = card_values(results)
    config = metrics_config(results)
    match = _FRONT_MATTER.search(text)
    if match is None:
        raise CardError(
            "The card has no YAML front matter (a block between '---' lines at the top); huggingface_hub reads "
            "metrics only from there. Add one, e.g. start the file with '---', 'license: mit', '---'."
        )
    _parse(text)
    start, end = match.span(2)
    editor = YamlEditor(match.group(2))
    root = editor.root
    model_index = child(root, "model-index")
    existed = False
    if model_index is None:
        model_name = str(results["model"].get("variant") or "model")
        editor.append([{"model-index": [{"name": model_name, "results": [_block(dataset, values, config, DEFAULT_TASK)]}]}])
    else:
        result_blocks = child(_one_model(model_index), "results")
        if not isinstance(result_blocks, SequenceNode) or not result_blocks.value:
            raise CardError("The card's model-index has no `results` list; add one, or delete model-index to let stickeval write it.")
        require_block_style(result_blocks, "model-index results")
        blocks = [b for b in result_blocks.value if _dataset_of(b) == dataset]
        for block in blocks:
            _fill_block(editor, block, values, config)
        existed = bool(blocks)
        if not blocks:
            others = sorted({str(d) for d in map(_dataset_of, result_blocks.value) if d is not None})
            editor.add_item(result_blocks, _block(dataset, values, config, _task_of(result_blocks.value[0])))
            if others:
                notices.append(
                    f"The card's results are for {', '.join(others)}; this run is on {dataset}, so a new result block was "
                    "added and the others were left as they are. If the run was on the card's dataset (a .pt file of it), "
                    "pass --dataset-name and --dataset-type."
                )
    updated = text[:start] + editor.apply() + text[end:]
    body_changes: list[Change] = []
    if existed:
        head = len(updated) - len(text) + end
        body, body_changes = _fill_body_table(updated[head:], values, dataset)
        updated = updated[:head] + body
    changes = _model_index_changes(_parse(text), _parse(updated, updated=True), dataset) + body_changes
    return CardUpdate(text, updated, dataset, changes, notices)


def _parse(text: str, *, updated: bool = False) -> list:
    """The card's eval results as huggingface_hub parses them ([] without a model-index).

    Raises:
        CardError: invalid YAML or an unparseable model-index (for `updated`, a stickeval bug).
    """
    try:
        return ModelCard(text).data.eval_results or []
    except (yaml.YAMLError, ValueError) as e:
        if updated:
            raise AssertionError(f"stickeval wrote a card huggingface_hub cannot parse: {first_line(e)}") from e
        raise CardError(f"The card's front matter cannot be parsed: {_one_line(e)}. Fix the YAML, then run again.") from e


def _one_line(error: BaseException) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is not None and problem:
        return f"{problem} at line {mark.line + 2} of the card"  # +1 for 1-based, +1 for the opening '---'
    return first_line(error)


def _model_index_changes(before: list, after: list, dataset: Dataset) -> list[Change]:
    """The run dataset's values that `after` has and `before` lacks or holds otherwise."""
    old = {(r.dataset_name, r.dataset_type, r.metric_type): r for r in before}
    changes = []
    for r in after:
        if (r.dataset_name, r.dataset_type) != (dataset.name, dataset.type):
            continue
        was = old.get((r.dataset_name, r.dataset_type, r.metric_type))
        if was is None or was.metric_value != r.metric_value or was.metric_config != r.metric_config:
            old_text = None if was is None else str(was.metric_value)
            changes.append(Change("model-index", dataset, r.metric_type, old_text, str(r.metric_value)))
    return changes


def _fill_body_table(body: str, values: dict[str, float | None], dataset: Dataset) -> tuple[str, list[Change]]:
    """Fill two-cell rows `| <metric name or type> | TBD or a number |` of markdown tables outside code fences."""
    keys = {name.lower(): f for f, name in CARD_METRIC_NAMES.items()} | {f: f for f in CARD_METRIC_NAMES}
    out, changes, fenced = [], [], False
    for line in body.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        row = None if fenced else re.fullmatch(r"(\s*\|)([^|]*)\|([^|]*)(\|\s*)", line)
        card_field = keys.get(row.group(2).strip().lower()) if row else None
        value = values.get(card_field) if card_field else None
        if row and value is not None and _replaceable(row.group(3).strip()):
            cell, new = row.group(3), scalar_token(value)
            if cell.strip() != new:
                padded = cell.replace(cell.strip(), new, 1) if cell.strip() else f" {new} "
                line = f"{row.group(1)}{row.group(2)}|{padded}{row.group(4)}"
                changes.append(Change("body", dataset, card_field, cell.strip(), new))
        out.append(line)
    return "".join(out), changes


def _replaceable(cell: str) -> bool:
    if cell == TBD:
        return True
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _one_model(model_index: Node) -> Node:
    if not isinstance(model_index, SequenceNode) or len(model_index.value) != 1:
        count = len(model_index.value) if isinstance(model_index, SequenceNode) else "no"
        raise CardError(f"The card's model-index lists {count} models; stickeval fills a card with exactly one. Edit it to one entry.")
    require_block_style(model_index, "model-index")
    return model_index.value[0]


def _dataset_of(block: Node) -> Dataset | None:
    dataset = child(block, "dataset")
    name, kind = child(dataset, "name"), child(dataset, "type")
    if isinstance(name, ScalarNode) and isinstance(kind, ScalarNode):
        return Dataset(name.value, kind.value)
    return None


def _task_of(block: Node) -> dict:
    task = child(block, "task")
    found = {k: v.value for k in ("type", "name") if isinstance(v := child(task, k), ScalarNode)}
    return found if "type" in found else DEFAULT_TASK


def _block(dataset: Dataset, values: dict[str, float | None], config: str, task: dict) -> dict:
    """A new model-index result block for the run's dataset (metrics without a value left out)."""
    metrics = [_entry(f, v, config) for f, v in values.items() if v is not None]
    return {"task": task, "dataset": {"name": dataset.name, "type": dataset.type}, "metrics": metrics}


def _entry(card_field: str, value: float, config: str) -> dict:
    return {"type": card_field, "value": value, "name": CARD_METRIC_NAMES[card_field], "config": config}


def _fill_block(editor: YamlEditor, block: Node, values: dict[str, float | None], config: str) -> None:
    """Set each value (and its config) in an existing block; add the entries it lacks."""
    metrics = child(block, "metrics")
    if not isinstance(metrics, SequenceNode):
        raise CardError(
            "A model-index result block has no `metrics` list; give it one (`metrics:` with `- type: ...` entries), then run again."
        )
    require_block_style(metrics, "model-index metrics")
    entries = {}
    for entry in metrics.value:
        kind = child(entry, "type")
        if isinstance(kind, ScalarNode):
            entries.setdefault(kind.value, entry)
    for card_field, value in values.items():
        entry = entries.get(card_field)
        if entry is None and value is not None:
            editor.add_item(metrics, _entry(card_field, value, config))
        elif entry is not None:
            require_block_style(entry, f"{card_field} metric")
            current = child(entry, "value")
            if value is not None:
                editor.set_key(entry, "value", scalar_token(value))
                editor.set_key(entry, "config", scalar_token(config))
            elif not (isinstance(current, ScalarNode) and current.value == TBD):
                editor.set_key(entry, "value", TBD)  # a number these results do not back
