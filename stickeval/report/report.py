"""One run's report: identity, metrics with their context rows, robustness, per action, confusion,
physical scores and animations of its best, median and worst clips; as HTML or Markdown.

Everything is read from the run directory (results.json, run.json, the cached rollouts,
samples.jsonl when present); nothing is generated or re-scored. `build_report` returns the
document, `write_report` writes it atomically and returns what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stickeval._io import write_text_atomic
from stickeval.report.clips import Selection, run_rows
from stickeval.report.document import Document, Image, Section, Table, to_html, to_markdown
from stickeval.report.draw import Layout, draw_frames
from stickeval.report.runs import RunData, load_run, ranked

FORMATS = {".html": "html", ".md": "md"}
PHYSICAL = ("segment_length_instability", "foot_skating", "ground_penetration")
CLIP_METRIC = "pose_mse"  # best / median / worst clips are chosen by this per-sample score
THUMBNAIL = Layout(panel=144, title=28, font_size=11)
THUMBNAIL_STEP = 2  # thumbnails at 12.5 fps keep the page small
# What each context row of results.json's `baselines` is, under the name results.json gives it.
CONTEXT_ROWS = {
    "real": "another real clip of the prompt's action",
    "retrieval": "the train clip whose prompt is nearest",
    "first_frame": "the first frame held still",
    "mean_pose": "the train mean pose",
    "white_noise": "white noise of the train frames' mean and spread",
}


def fmt(x: float | None) -> str:
    """A number in 4 significant digits; "—" for a value that was not computed."""
    return "—" if x is None else f"{x:.4g}"


def estimate(e: dict | None) -> str:
    """ "mean [low, high]" of an estimate dict; "—" when absent or undefined."""
    if not e or e.get("mean") is None:
        return "—"
    low, high = (e.get("ci95") or [None, None])[:2]
    return f"{fmt(e['mean'])} [{fmt(low)}, {fmt(high)}]"


def _identity(results: dict, run_dir: Path) -> Section:
    model, suite, config, timing, tool = (
        results["model"],
        results["suite"],
        results["config"],
        results.get("timing", {}),
        results.get("tool", {}),
    )
    rows = [
        ["model", str(model.get("variant"))],
        ["source / repo / revision", f"{model.get('source')} / {model.get('repo_id') or '—'} / {model.get('revision') or '—'}"],
        ["commit sha", str(model.get("commit_sha") or "—")],
        ["weights sha256", str(model.get("hash") or "—")],
        ["parameters / schema / encoder", f"{model.get('n_params', 0):,} / {model.get('schema')} / {model.get('encoder')}"],
        ["suite", f"{suite.get('name')} ({suite.get('version')}), n = {suite.get('n')}"],
        ["suite hash", str(suite.get("hash"))],
        [
            "config",
            ", ".join(
                f"{k}={config[k]}"
                for k in ("device", "dtype", "batch_size", "prime", "seed", "frames", "rows", "noise_prompts")
                if k in config
            ),
        ],
        ["device", str(timing.get("device_name", "—"))],
        ["generation speed", f"{fmt(timing.get('sequences_per_second'))} sequences/s"],
        ["date", str(results.get("date"))],
        ["stickeval", f"{tool.get('version')} ({tool.get('git_hash') or 'no git hash'})"],
        ["run directory", str(run_dir)],
    ]
    return Section("run", "Run", [Table(["", "value"], rows, text_columns=(0, 1))])


def _metrics(results: dict) -> Section:
    from stickeval.evaluation.results import metric_rows

    rows = metric_rows(results)
    table = Table(
        ["metric", "value", "95% CI", "n", "better", "reference", "what it measures"],
        [[r.name, fmt(r.value), f"[{fmt(r.ci[0])}, {fmt(r.ci[1])}]", str(r.n), r.direction, fmt(r.reference), r.description] for r in rows],
        text_columns=(0, 6),
    )
    notes = [f"{r.name}: {r.note}" for r in rows if r.note]
    legend = "reference: another real clip of each prompt's action through the same code (older results: the suite's own clips)."
    blocks: list = [table, legend, *notes]
    context = list(rows[0].baselines) if rows else []
    if context:  # the rows that give each number its meaning, scored by the same functions
        blocks += [
            "Context: model-free answers to the same prompts, scored like the model. "
            + "; ".join(f"{row}: {CONTEXT_ROWS[row]}" for row in context if row in CONTEXT_ROWS)
            + ".",
            Table(
                ["metric", "model", *context],
                [[r.name, fmt(r.value), *(fmt(r.baselines[c]) for c in context)] for r in rows],
                text_columns=(0,),
            ),
        ]
    return Section("metrics", "Metrics", blocks)


def _noise(results: dict) -> Section:
    per_noise = results.get("breakdowns", {}).get("per_noise") or {}
    if not per_noise:
        return Section("noise", "Robustness to prompt noise", ["Not computed for this run (run without --no-noise to get it)."])
    from stickeval.report.plots import noise_plot

    levels = sorted({level for kind in per_noise.values() for level in kind}, key=int)
    columns = ["noise kind"] + [f"accuracy, level {lv}" for lv in levels] + [f"robustness, level {lv}" for lv in levels]
    rows = [
        [kind]
        + [estimate(by.get(lv, {}).get("action_accuracy")) for lv in levels]
        + [estimate(by.get(lv, {}).get("robustness")) for lv in levels]
        for kind, by in per_noise.items()
    ]
    image = Image(
        noise_plot(per_noise, results["metrics"].get("action_accuracy")),
        "image/png",
        "Action accuracy by noise kind and level (95% CIs); dashed: the clean prompts.",
    )
    return Section("noise", "Robustness to prompt noise", [image, Table(columns, rows)])


def _per_action(results: dict) -> Section:
    per_action = results.get("breakdowns", {}).get("per_action") or {}
    if not per_action:
        return Section("per-action", "Per action", ["No per-action breakdown in this results.json."])
    from stickeval.report.plots import per_action_plot

    names = list(per_action)
    actions = sorted({a for name in names for a in per_action[name]})
    n = {a: max(per_action[name].get(a, {}).get("n", 0) for name in names) for a in actions}
    rows = [[a, str(n[a])] + [estimate(per_action[name].get(a)) for name in names] for a in actions]
    image = Image(per_action_plot(per_action), "image/png", "Per-action means with 95% CIs.")
    return Section("per-action", "Per action", [image, Table(["action", "n", *names], rows)])


def _confusion(results: dict) -> Section:
    confusion = results.get("breakdowns", {}).get("confusion")
    if not confusion:
        return Section(
            "confusion", "Confusion matrix", ["Not in this results.json (written by a newer `stickeval score`: re-score the run)."]
        )
    labels, matrix = confusion["labels"], confusion["matrix"]
    rows = [[label] + [str(int(v)) for v in row] for label, row in zip(labels, matrix, strict=True)]
    table = Table(
        ["true \\ predicted", *labels], rows, "Rows: the prompt's action; columns: the classifier's top-1 on the rollout.", heat=True
    )
    return Section("confusion", "Confusion matrix", [table])


def _physical(results: dict) -> Section:
    """The physical scores with their CIs, beside the same reference value as the metrics table's."""
    from stickeval.evaluation.results import metric_rows

    by_name = {r.name: r for r in metric_rows(results)}
    rows = [
        [name, estimate(results["metrics"][name]), by_name[name].unit, fmt(by_name[name].reference)] for name in PHYSICAL if name in by_name
    ]
    if not rows:
        return Section("physical", "Physical plausibility", ["No physical scores in this results.json."])
    return Section("physical", "Physical plausibility", [Table(["score", "mean [95% CI]", "unit", "reference"], rows, text_columns=(0, 2))])


def _clips(data: RunData) -> Section:
    """Animations of the best, median and worst clean clips by `CLIP_METRIC` (generated | reference)."""
    from stickeval.report.render import gif_bytes

    order = ranked(data.scores, CLIP_METRIC, worst=False) if CLIP_METRIC in data.scores else np.arange(len(data.suite.ids))
    if len(order) == 0:
        return Section("clips", "Clips", [f"No clip has a defined {CLIP_METRIC}."])
    picks = dict.fromkeys([("best", order[0]), ("median", order[len(order) // 2]), ("worst", order[-1])])
    blocks: list = [f"Generated (blue) beside the reference (grey), chosen by {CLIP_METRIC}; every {THUMBNAIL_STEP}nd frame."]
    seen = set()
    for which, index in picks:
        if int(index) in seen:
            continue
        seen.add(int(index))
        rows, infos = run_rows(data, Selection(prompt_ids=(data.suite.ids[int(index)],)))
        frames = draw_frames(rows, THUMBNAIL, step=THUMBNAIL_STEP)
        info = infos[0]
        caption = f'{which}: {info.id} ({info.label}) "{info.prompt}", {CLIP_METRIC} = {fmt(info.scores.get(CLIP_METRIC))}'
        blocks.append(Image(gif_bytes(frames, fps=25 / THUMBNAIL_STEP), "image/gif", caption))
    return Section("clips", "Clips: best, median, worst", blocks)


def build_report(run_dir: str | Path) -> Document:
    """The report of a scored run directory.

    Raises:
        ResultsFileError: no results.json, or one of another schema version.
        RunDirectoryError: run.json or the cached rollouts are missing or corrupt.
        MissingDependencyError: Pillow or matplotlib is not installed.
    """
    data = load_run(run_dir)
    results = data.results
    sections = [
        _identity(results, data.run_dir),
        _metrics(results),
        _noise(results),
        _per_action(results),
        _confusion(results),
        _physical(results),
        _clips(data),
    ]
    if results.get("notices"):
        sections.append(Section("notices", "Notices", list(results["notices"])))
    title = f"{results['model'].get('variant')} on {results['suite'].get('name')} (n={results['suite'].get('n')})"
    return Document(title, sections)


@dataclass(frozen=True)
class Written:
    """What `write_report` wrote: the path, its format, its section ids and its size in bytes."""

    path: str
    format: str
    sections: list[str]
    bytes: int


def write_report(run_dir: str | Path, output: str | Path | None = None, *, format: str | None = None) -> Written:
    """Write the run's report as HTML or Markdown (by `format`, else the suffix of `output`).

    Args:
        run_dir: a scored run directory.
        output: the file to write (missing directories are created); default RUN_DIR/report.html (.md).
        format: "html" or "md".

    Raises:
        OutputPathError: the output cannot be written there, or a suffix that is not .html/.md.
        ResultsFileError, RunDirectoryError, MissingDependencyError: as `build_report`.
    """
    from stickeval.errors import OutputPathError
    from stickeval.report.render import check_output
    from stickeval.report.runs import read_results

    run_dir = Path(run_dir)
    read_results(run_dir)  # a missing or foreign run is named before anything about the output
    format = format or (FORMATS.get(Path(output).suffix.lower(), "html") if output else "html")
    if format not in FORMATS.values():
        raise OutputPathError(f"Unknown report format {format!r}; use html or md.")
    path = check_output(Path(output) if output else run_dir / f"report.{format}", [s for s, f in FORMATS.items() if f == format])
    document = build_report(run_dir)
    text = to_html(document) if format == "html" else to_markdown(document)
    write_text_atomic(path, text)
    return Written(str(path), format, [s.id for s in document.sections], path.stat().st_size)
