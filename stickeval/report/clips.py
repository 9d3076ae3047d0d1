"""Which clips to draw, from where: a scored run, a `.pt` dataset, or a prompt given to a model.

Each source returns sheet rows (`draw.Row`: generated | [noisy] | reference side by side) and a
short record per clip (id, prompt, label, scores) for `--json` and the report. Selection is the same
everywhere: explicit prompt ids, or the clips of one action, optionally the N best or worst by a
metric; with no selector, the first clip.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stickeval.data.prompt_noise import NOISE_KINDS, NOISE_LEVELS
from stickeval.data.schema import ACTION_TO_ID, ACTIONS
from stickeval.errors import GenerationInputError, PromptNoiseError, TextEncoderError, UnknownPromptError
from stickeval.report.draw import Panel, Row
from stickeval.report.runs import RunData, ranked


@dataclass(frozen=True)
class Selection:
    """What to draw: `prompt_ids` (exclusive with the rest), else the clips labelled `action` (all
    clips when None), of which the `worst`/`best` N by `metric`, else the first one."""

    prompt_ids: tuple[str, ...] = ()
    action: str | None = None
    worst: int | None = None
    best: int | None = None
    metric: str = "pose_mse"
    noise: str | None = None  # "kind:level": add the noisy prompt's rollout beside the clean one

    def __post_init__(self) -> None:
        problems = []
        if self.worst is not None and self.best is not None:
            problems.append("pass --worst or --best, not both")
        if self.prompt_ids and (self.action or self.worst or self.best):
            problems.append("--prompt-id names the clips itself: drop --action/--worst/--best, or drop --prompt-id")
        for name, n in (("--worst", self.worst), ("--best", self.best)):
            if n is not None and n < 1:
                problems.append(f"{name} must be at least 1, got {n}")
        if problems:
            raise GenerationInputError("; ".join(problems) + ".")
        if self.noise is not None:
            parse_noise(self.noise)


@dataclass(frozen=True)
class ClipInfo:
    """One drawn clip, for `--json` and the report's captions."""

    id: str
    prompt: str
    label: str | None
    scores: dict[str, float | None] = field(default_factory=dict)
    noisy_prompt: str | None = None


def parse_noise(value: str) -> tuple[str, int]:
    """ "typo:2" -> ("typo", 2).

    Raises:
        PromptNoiseError: unknown kind or level, or not of the form KIND:LEVEL.
    """
    kind, _, level = value.partition(":")
    if kind not in NOISE_KINDS:
        raise PromptNoiseError("kind", kind, NOISE_KINDS)
    if not level.isdigit() or int(level) not in NOISE_LEVELS:
        raise PromptNoiseError("level (write KIND:LEVEL, e.g. typo:2)", level, NOISE_LEVELS)
    return kind, int(level)


def _pick(ids: Sequence[str], labels: Sequence[str], selection: Selection, scores: dict[str, np.ndarray] | None) -> list[int]:
    """Indices of the selected clips, in the order they are drawn."""
    if selection.prompt_ids:
        where = {sample_id: i for i, sample_id in enumerate(ids)}
        for sample_id in selection.prompt_ids:
            if sample_id not in where:
                raise UnknownPromptError("prompt id", sample_id, ids)
        return [where[s] for s in selection.prompt_ids]
    if selection.action is not None and selection.action not in labels:
        raise UnknownPromptError("action", selection.action, labels)
    pool = [i for i, label in enumerate(labels) if selection.action in (None, label)]
    count = selection.worst or selection.best
    if count is None:
        return pool[:1]
    if scores is None:
        raise GenerationInputError(
            "--worst/--best rank a run's clips by a metric; a dataset file has no scores. Pass --prompt-id or --action."
        )
    keep = set(pool)
    order = [int(i) for i in ranked(scores, selection.metric, worst=selection.worst is not None) if int(i) in keep]
    return order[:count]


def _title(sample_id: str, label: str | None, prompt: str) -> str:
    return " | ".join(part for part in (sample_id, label, prompt) if part)


def run_rows(data: RunData, selection: Selection) -> tuple[list[Row], list[ClipInfo]]:
    """Rows of a scored run: generated | [noisy] | reference for each selected clean prompt.

    Raises:
        UnknownPromptError: an unknown prompt id or action; a clip outside the noise subset with --noise.
        UnknownMetricError: --worst/--best by a metric without per-sample scores.
    """
    from stickeval.metrics.physical import ground_height

    suite, generated = data.suite, data.clean()
    picked = _pick(suite.ids, suite.labels, selection, data.scores)
    noisy, noisy_prompts = None, None
    if selection.noise:
        kind, level = parse_noise(selection.noise)
        role = f"noise:{kind}:{level}"
        noisy, noisy_prompts = data.noisy(role), data.run.get("noisy_prompts", {}).get(role, [])
        outside = [suite.ids[i] for i in picked if i >= len(noisy)]
        if outside:
            subset = suite.ids[: len(noisy)]
            raise UnknownPromptError(
                "prompt id (in the run's noise subset, the first prompts; use --noise-prompts to widen it)", outside[0], subset
            )
    grounds = ground_height(suite.motion, suite.lengths)
    rows, infos = [], []
    for i in picked:
        panels = [Panel(generated[i], "generated")]
        if noisy is not None:
            panels.append(Panel(noisy[i], f"noisy ({selection.noise}): {noisy_prompts[i]}", "noisy"))
        panels.append(Panel(suite.motion[i], "reference", "reference"))
        rows.append(Row(_title(suite.ids[i], suite.labels[i], suite.prompts[i]), tuple(panels), float(grounds[i])))
        scores = {name: (float(v[i]) if np.isfinite(v[i]) else None) for name, v in data.scores.items()}
        infos.append(ClipInfo(suite.ids[i], suite.prompts[i], suite.labels[i], scores, noisy_prompts[i] if noisy is not None else None))
    return rows, infos


def dataset_rows(path: str | Path, selection: Selection) -> tuple[list[Row], list[ClipInfo]]:
    """Rows of a Stick-Gen `.pt` dataset: each selected clip alone (ids are "<file stem>/<index>").

    Raises:
        DatasetError: the file is unreadable or has bad samples.
        UnknownPromptError, GenerationInputError: as the selection says.
    """
    from stickeval.data import suite_from_dataset

    if selection.noise:
        raise GenerationInputError("--noise needs a run (noisy rollouts) or a model and a prompt; a dataset file has neither.")
    suite = suite_from_dataset(path)
    picked = _pick(suite.ids, suite.labels, selection, None)
    rows = [
        Row(
            _title(suite.ids[i], suite.labels[i], suite.prompts[i]),
            (Panel(suite.motion[i, : suite.lengths[i]], "dataset clip", "reference"),),
        )
        for i in picked
    ]
    return rows, [ClipInfo(suite.ids[i], suite.prompts[i], suite.labels[i]) for i in picked]


def action_in_prompt(prompt: str) -> str:
    """The first action name the prompt mentions ("a person waves" -> "wave", "walking" -> "walk"), else "idle"."""
    for word in re.findall(r"[a-z]+", prompt.lower()):
        for stem in (word, word.removesuffix("s"), word.removesuffix("es"), word.removesuffix("ing"), word.removesuffix("ing") + "e"):
            if stem in ACTION_TO_ID:
                return stem
    return "idle"


def prompt_rows(
    variant: str,
    prompt: str,
    *,
    action: str | None = None,
    noise: str | None = None,
    revision: str | None = None,
    zoo: str | Path | None = None,
    device: str | None = None,
    seed: int = 0,
) -> tuple[list[Row], list[ClipInfo]]:
    """Generate `prompt` (and its noisy version with `noise`) with a zoo variant and draw it.

    The action track is `action`, else the first action the prompt names (`action_in_prompt`).
    Frame 0 is StickBench's first training clip of that action (v1 models), or zeros (other schemas,
    the original generator's convention).

    Raises:
        GenerationInputError: the prompt is blank (checked before the model is loaded).
        UnknownPromptError: `action` is no action name.
        UnknownVariantError, HubError, CheckpointError, TextEncoderError: loading the model or its encoder.
    """
    from stickeval import zoo as zoo_api
    from stickeval.data.prompt_noise import perturb
    from stickeval.generation import generate
    from stickeval.text import check_prompts, get_encoder

    check_prompts([prompt])
    if action is not None and action not in ACTION_TO_ID:
        raise UnknownPromptError("action", action, ACTIONS)
    action = action or action_in_prompt(prompt)
    loaded = zoo_api.load(variant, revision=revision, zoo=zoo)
    if loaded.encoder is None:
        raise TextEncoderError(f"{variant} does not name its text encoder (no 'encoder' in its config.json or zoo entry); add it there.")
    encoder = get_encoder(loaded.encoder, dim=loaded.config.embedding_dim)
    noisy_prompt = perturb(prompt, *parse_noise(noise), seed=seed) if noise else None
    prompts = [prompt] + ([noisy_prompt] if noisy_prompt else [])
    frames = 250
    first = _first_frame(action, loaded.config.input_dim)
    rollout = generate(
        loaded.model,
        encoder.encode(prompts),
        np.full((len(prompts), frames), ACTION_TO_ID[action], dtype=np.int64),
        frames=frames,
        prime="zeros" if first is None else "reference",
        first_frames=None if first is None else np.repeat(first[None], len(prompts), 0),
        device=device,
    )
    panels = [Panel(rollout.motion[0], f"generated by {variant}")]
    if noisy_prompt:
        panels.append(Panel(rollout.motion[1], f"noisy ({noise}): {noisy_prompt}", "noisy"))
    return [Row(_title("", action, prompt), tuple(panels))], [ClipInfo("prompt", prompt, action, noisy_prompt=noisy_prompt)]


def _first_frame(action: str, dim: int) -> np.ndarray | None:
    """Frame 0 of StickBench's first training clip labelled `action` (else its first clip), for v1 models."""
    if dim != 20:
        return None
    from stickeval.data import load_suite

    train = load_suite("quick", split="train")
    index = train.labels.index(action) if action in train.labels else 0
    return np.asarray(train.motion[index, 0])


def rows_for(target: str, prompt: str | None, selection: Selection, **model_options) -> tuple[list[Row], list[ClipInfo]]:
    """Rows from what `stickeval render TARGET [PROMPT]` names: a variant with a prompt, a `.pt` dataset, or a run directory.

    Args:
        target: a run directory, a `.pt` file, or (with `prompt`) a zoo variant, repo id or checkpoint directory.
        prompt: the text to generate from; None to draw existing clips.
        selection: which clips (with a prompt only `action` and `noise` apply).
        model_options: `revision`, `zoo`, `device`, `seed` for `prompt_rows`.

    Raises:
        ResultsFileError: `target` is no run directory (and no prompt was given).
        GenerationInputError: clip selectors given with a prompt.
        and the errors of `run_rows`, `dataset_rows`, `prompt_rows`.
    """
    from stickeval.errors import ResultsFileError
    from stickeval.report.runs import load_run

    path = Path(target)
    if prompt is not None:
        if selection.prompt_ids or selection.worst or selection.best:
            raise GenerationInputError(
                "--prompt-id/--worst/--best choose clips of a run; with a prompt, drop them (--action and --noise apply)."
            )
        return prompt_rows(target, prompt, action=selection.action, noise=selection.noise, **model_options)
    if path.suffix == ".pt":
        return dataset_rows(path, selection)
    if not path.exists():
        raise ResultsFileError(
            f"{target} is neither a run directory nor a .pt dataset. To render a prompt with a model, give the prompt too: "
            f'stickeval render {target} "a person waves" -o wave.gif'
        )
    return run_rows(load_run(path), selection)
