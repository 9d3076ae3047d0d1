"""`stickeval render`: stick-figure animations (GIF, or MP4) from a run, a dataset file, or a prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stickeval.cli.options import DeviceOpt, JsonOpt, RevisionOpt, SeedOpt, ZooOpt
from stickeval.cli.output import err_console, examples, print_json

MAX_STEP = 250  # stickeval.report.render.MAX_STEP (not imported here: it loads numpy)

EXAMPLES = examples(
    "stickeval render runs/large-sft --prompt-id sb1-00012 -o walk.gif",
    "# the 4 worst clips by pose_mse, each beside its typo:2 rollout",
    "stickeval render runs/large-sft --worst 4 --noise typo:2 -o worst.mp4",
    'stickeval render nano "a person waves" -o wave.gif',
    "stickeval render bench.pt --action jump -o jump.gif",
)


def _not_blank(prompt: str | None) -> str | None:
    """PROMPT's check: text to generate from, not an empty or all-whitespace string (a usage error, exit 2)."""
    if prompt is not None and not prompt.strip():
        raise typer.BadParameter('the prompt is blank; give the text to generate from, e.g. "a person waves".')
    return prompt


def render(
    target: Annotated[str, typer.Argument(metavar="TARGET", help="A run directory, a .pt dataset, or (with PROMPT) a variant.")],
    prompt: Annotated[
        str | None, typer.Argument(metavar="PROMPT", help="Text to generate from, with TARGET a variant.", callback=_not_blank)
    ] = None,
    prompt_id: Annotated[list[str] | None, typer.Option("--prompt-id", help="A clip by its sample id (repeatable).")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Clips of this action (with a prompt: its action track).")] = None,
    worst: Annotated[int | None, typer.Option("--worst", min=1, help="The N worst clips by --metric.")] = None,
    best: Annotated[int | None, typer.Option("--best", min=1, help="The N best clips by --metric.")] = None,
    metric: Annotated[str, typer.Option("--metric", help="The per-sample score --worst/--best rank by.")] = "pose_mse",
    noise: Annotated[str | None, typer.Option("--noise", help="Also draw the noisy prompt's rollout, KIND:LEVEL (e.g. typo:2).")] = None,
    step: Annotated[int, typer.Option("--step", min=1, max=MAX_STEP, help="Keep every N-th frame (smaller files).")] = 1,
    out: Annotated[Path, typer.Option("-o", "--out", help="Output file: .gif or .mp4 (missing folders are made).")] = Path("render.gif"),
    seed: SeedOpt = 0,
    device: DeviceOpt = None,
    revision: RevisionOpt = None,
    zoo: ZooOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Draw clips side by side (generated | noisy | reference) with the prompt as title, as an animation."""
    from stickeval.report.clips import Selection, rows_for
    from stickeval.report.render import ANIMATION_SUFFIXES, check_output
    from stickeval.report.render import render as render_api

    check_output(out, ANIMATION_SUFFIXES)
    selection = Selection(tuple(prompt_id or ()), action, worst, best, metric, noise)
    rows, clips = rows_for(target, prompt, selection, revision=revision, zoo=zoo, device=device, seed=seed)
    rendered = render_api(rows, clips, out, step=step)
    if json_:
        print_json(rendered.to_dict())
        return
    for clip in rendered.clips:
        err_console.print(f"{clip.id}: {clip.prompt}", highlight=False, markup=False)
    err_console.print(
        f"Wrote {rendered.path} ({rendered.frames} frames at {rendered.fps:g} fps, {rendered.bytes / 1e3:.0f} kB, {rendered.seconds:.2f} s)"
    )
