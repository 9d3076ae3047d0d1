"""Training recipes: a frozen dataclass read from TOML, every problem reported at once.

A recipe is a file (`stickeval/train/recipes/<name>.toml`, or any path) with one table per section
below. Users copy one (`stickeval recipes cp sft-large my.toml`), edit it, and pass it with
`--recipe my.toml`; any key can be overridden with `--set section.key=value` (the value is read as
TOML, so `--set optimizer.lr=1e-4`, `--set data.path=train.pt`, `--set lora.target_modules=["q_proj"]`).
Nothing in a recipe is computed: what it says is what runs.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from stickeval.errors import RecipeError, UnknownRecipeError, did_you_mean

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass(frozen=True)
class ModelSection:
    """Architecture of the model; the weights of `init_from`, when set, must have this architecture."""

    init_from: str = ""  # a zoo variant, repo id or checkpoint directory to start from; "" = random init
    input_dim: int = 20
    d_model: int = 256
    nhead: int = 8
    num_layers: int = 6
    output_dim: int = 20
    embedding_dim: int = 1024
    num_actions: int = 64
    dropout: float = 0.1


@dataclass(frozen=True)
class DataSection:
    """Where samples come from: a Stick-Gen `.pt` file, or StickBench built on the fly."""

    source: str = "file"  # "file" (data.path or --data) or "stickbench"
    path: str = ""  # the .pt file when source = "file"
    stickbench_size: str = "standard"  # StickBench size when source = "stickbench"
    encoder: str = "hash"  # text encoder: of StickBench prompts; for a file, the one its embeddings came from
    n_frames: int = 250  # clips are cropped to this length; shorter ones are dropped (curation)
    val_fraction: float = 0.1  # held out for the per-epoch validation loss
    on_bad: str = "fail"  # "fail" or "skip" bad samples of a .pt file


@dataclass(frozen=True)
class CurationSection:
    """Which samples train (`stickeval.train.curation`)."""

    min_quality: float = 0.0  # drop samples whose quality_score is below this
    missing_quality: str = "keep"  # "keep" or "drop" samples without a quality_score
    balance: str = "none"  # "none" or "stratified" (by each sample's dominant action)
    max_fraction: float = 1.0  # stratified: the largest share one action may keep


@dataclass(frozen=True)
class ObjectiveSection:
    """What is predicted and how it is scored (stickeval.train.objective)."""

    kind: str = "next-frame"  # "next-frame" (bidirectional, the original) or "causal" (stored in config.json)
    loss: str = "original"  # "original" (golden-exact, defects included) or "corrected"
    temporal: float = 0.1
    action: float = 0.2
    physics: float = 0.25
    diff_physics: float = 0.1  # multiplies a term that is always 0 in the original
    # std of Gaussian noise added to the input frames (never the targets) of each training batch, in
    # pose units: the model learns to pull a drifting rollout back (exposure bias); 0 = the original
    input_noise: float = 0.0
    # probability that an input frame is replaced by the model's own one-step prediction (parallel
    # scheduled sampling): the model learns to continue from its own errors; 0 = the original
    scheduled_sampling: float = 0.0


@dataclass(frozen=True)
class OptimizerSection:
    """AdamW."""

    lr: float = 5e-5
    weight_decay: float = 0.01
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    max_grad_norm: float = 1.0


@dataclass(frozen=True)
class ScheduleSection:
    """Epochs, batches and the learning-rate schedule (warmup then cosine to min_lr_ratio, per optimizer step).

    The global batch is `batch_size x grad_accum` samples per process: the loss is normalised by it
    (each micro-batch's loss weighted by its share), whatever `micro_batch` the step is computed in.
    """

    epochs: int = 1
    batch_size: int = 2  # per process; the global batch is batch_size x grad_accum x processes
    grad_accum: int = 1
    # samples per forward/backward pass: how the global batch is computed, not what it is (the same
    # gradient up to float rounding); "auto" = the largest that fits GPU memory, batch_size on CPU
    micro_batch: int | str = "auto"
    warmup_fraction: float = 0.0  # share of all optimizer steps spent warming up linearly
    min_lr_ratio: float = 0.0  # the cosine ends at lr x this


@dataclass(frozen=True)
class LoraSection:
    """LoRA adapters (`stickeval.train.lora`); when enabled only the adapters train."""

    enabled: bool = False
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0  # dropout on the adapters' A matrix (the adapters live in weight space)
    target_modules: list[str] = field(default_factory=lambda: [r"self_attn\.(q|k|v|out)_proj$", r"ffn\.(gate|value|output)_proj$"])


@dataclass(frozen=True)
class RunSection:
    """Seeds, logging and checkpoints."""

    seed: int = 42
    log_every: int = 1  # optimizer steps between train_log.jsonl lines
    save_every: int = 500  # optimizer steps between resumable checkpoints (0: only at the end)


SECTIONS = {
    "model": ModelSection,
    "data": DataSection,
    "curation": CurationSection,
    "objective": ObjectiveSection,
    "optimizer": OptimizerSection,
    "schedule": ScheduleSection,
    "lora": LoraSection,
    "run": RunSection,
}
# Keys whose value must be one of a few words.
CHOICES = {
    ("data", "source"): ("file", "stickbench"),
    ("data", "on_bad"): ("fail", "skip"),
    ("curation", "missing_quality"): ("keep", "drop"),
    ("curation", "balance"): ("none", "stratified"),
    ("objective", "kind"): ("next-frame", "causal"),
    ("objective", "loss"): ("original", "corrected"),
}


@dataclass(frozen=True)
class Recipe:
    """A complete, validated training recipe."""

    name: str
    description: str = ""
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    curation: CurationSection = field(default_factory=CurationSection)
    objective: ObjectiveSection = field(default_factory=ObjectiveSection)
    optimizer: OptimizerSection = field(default_factory=OptimizerSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    lora: LoraSection = field(default_factory=LoraSection)
    run: RunSection = field(default_factory=RunSection)

    def to_dict(self) -> dict:
        """Every key, sections as nested dicts (JSON- and TOML-ready)."""
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        """The resolved recipe as TOML: `--recipe` on this text reproduces the run."""
        doc = self.to_dict()
        lines = [f"name = {_toml_value(doc.pop('name'))}", f"description = {_toml_value(doc.pop('description'))}"]
        for section, values in doc.items():
            lines += ["", f"[{section}]", *(f"{k} = {_toml_value(v)}" for k, v in values.items())]
        return "\n".join(lines) + "\n"

    def loss_weights(self) -> dict[str, float]:
        """The objective's weights as compute_loss takes them."""
        o = self.objective
        return {"temporal": o.temporal, "action": o.action, "physics": o.physics, "diff_physics": o.diff_physics}


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def list_recipes() -> list[str]:
    """Names of the packaged recipes, sorted."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def recipe_path(name_or_path: str | Path) -> Path:
    """The file of a packaged recipe name, or the given path.

    Raises:
        UnknownRecipeError: neither a packaged recipe nor an existing file.
    """
    packaged = RECIPES_DIR / f"{name_or_path}.toml"
    if packaged.is_file():
        return packaged
    path = Path(name_or_path)
    if path.is_file():
        return path
    raise UnknownRecipeError(str(name_or_path), list_recipes())


def load_recipe(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read a recipe (packaged name or TOML file), apply `--set key=value` overrides, validate everything.

    Raises:
        RecipeError: unknown recipe, unreadable TOML, or a list of every problem found: unknown
            section or key (with "did you mean"), wrong type, value out of range, malformed override.
    """
    path = recipe_path(name_or_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RecipeError(f"{path} is not a readable TOML file ({e}). Fix the syntax.", path=str(path)) from e
    doc.setdefault("name", path.stem)
    problems = apply_overrides(doc, overrides)
    return recipe_from_dict(doc, source=str(path), problems=problems)


def apply_overrides(doc: dict, overrides: list[str] | tuple[str, ...]) -> list[str]:
    """Set `section.key=value` items into `doc` in place; returns the malformed ones as problems.

    The value is parsed as TOML (numbers, booleans, lists, quoted strings); anything else is a string.
    """
    problems = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            problems.append(f"--set {item!r}: expected section.key=value, e.g. optimizer.lr=1e-4")
            continue
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        target = doc.setdefault(section, {})
        if isinstance(target, dict):
            target[name] = value
        else:
            problems.append(f"--set {item!r}: '{section}' is not a section")
    return problems


def recipe_from_dict(doc: dict, *, source: str = "recipe", problems: list[str] | None = None) -> Recipe:
    """Validate a recipe document and build the Recipe; all problems are collected before raising.

    Raises:
        RecipeError: one message listing every problem, each naming its key.
    """
    problems = list(problems or [])
    kwargs: dict[str, object] = {}
    for key, value in doc.items():
        if key in ("name", "description"):
            if isinstance(value, str):
                kwargs[key] = value
            else:
                problems.append(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        elif key in SECTIONS:
            if isinstance(value, dict):
                kwargs[key] = _section(key, SECTIONS[key], value, problems)
            else:
                problems.append(f"{key}: expected a [{key}] table, got {type(value).__name__}")
        else:
            problems.append(f"unknown section '{key}'.{did_you_mean(key, [*SECTIONS, 'name', 'description'])}")
    # the range rules run on every key that passed (the others at their defaults), so that one pass reports every problem
    recipe = Recipe(**{"name": "", **kwargs})  # type: ignore[arg-type]
    problems += _rules(recipe)
    if problems:
        raise RecipeError(
            f"{source} has {len(problems)} problem(s): " + "; ".join(problems) + ". See docs/training.md for every key.",
            problems=problems,
            path=source,
        )
    return recipe


def _section(name: str, cls: type, values: dict, problems: list[str]) -> object | None:
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kept = {}
    for key, value in values.items():
        if key not in known:
            problems.append(f"unknown key '{name}.{key}'.{did_you_mean(key, known)}")
            continue
        expected = hints[key]
        if not _type_ok(value, expected):
            problems.append(f"{name}.{key}: expected {_type_name(expected)}, got {type(value).__name__} {value!r}")
            continue
        kept[key] = float(value) if expected is float else value
        choices = CHOICES.get((name, key))
        if choices and value not in choices:
            problems.append(f"{name}.{key}: {value!r} is not one of {', '.join(choices)}")
    return cls(**kept)


def _type_ok(value: object, expected: object) -> bool:
    if expected is bool:
        return isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if expected is str:
        return isinstance(value, str)
    if isinstance(expected, types.UnionType):  # int | str
        return any(_type_ok(value, option) for option in typing.get_args(expected))
    inner = typing.get_args(expected)[0]  # list[float] / list[str]
    return isinstance(value, list) and all(_type_ok(v, inner) for v in value)


def _type_name(expected: object) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if expected in names:
        return names[expected]
    if isinstance(expected, types.UnionType):
        return " or ".join(_type_name(option) for option in typing.get_args(expected))
    return f"a list of {_type_name(typing.get_args(expected)[0]).removeprefix('a ').removeprefix('an ')}s"


def _rules(r: Recipe) -> list[str]:
    """Range rules across keys, each naming its key."""
    out = []
    positive = {
        "model.d_model": r.model.d_model,
        "model.nhead": r.model.nhead,
        "model.num_layers": r.model.num_layers,
        "model.input_dim": r.model.input_dim,
        "model.output_dim": r.model.output_dim,
        "model.embedding_dim": r.model.embedding_dim,
        "model.num_actions": r.model.num_actions,
        "schedule.epochs": r.schedule.epochs,
        "schedule.batch_size": r.schedule.batch_size,
        "schedule.grad_accum": r.schedule.grad_accum,
        "optimizer.lr": r.optimizer.lr,
        "optimizer.eps": r.optimizer.eps,
        "optimizer.max_grad_norm": r.optimizer.max_grad_norm,
        "lora.rank": r.lora.rank,
        "lora.alpha": r.lora.alpha,
        "run.log_every": r.run.log_every,
    }
    out += [f"{k} must be > 0, got {v}" for k, v in positive.items() if v <= 0]
    if r.model.d_model > 0 and r.model.nhead > 0 and (r.model.d_model % r.model.nhead or (r.model.d_model // r.model.nhead) % 2):
        out.append(f"model.d_model ({r.model.d_model}) must be a multiple of model.nhead ({r.model.nhead}) with an even head size")
    if r.data.n_frames < 2:
        out.append(f"data.n_frames must be at least 2 (one input and one target frame), got {r.data.n_frames}")
    fractions = {
        "data.val_fraction": (r.data.val_fraction, 0.0, 0.9),
        "model.dropout": (r.model.dropout, 0.0, 0.99),
        "lora.dropout": (r.lora.dropout, 0.0, 0.99),
        "schedule.warmup_fraction": (r.schedule.warmup_fraction, 0.0, 1.0),
        "schedule.min_lr_ratio": (r.schedule.min_lr_ratio, 0.0, 1.0),
        "curation.min_quality": (r.curation.min_quality, 0.0, 1.0),
        "curation.max_fraction": (r.curation.max_fraction, 1e-9, 1.0),
        "objective.scheduled_sampling": (r.objective.scheduled_sampling, 0.0, 1.0),
    }
    out += [f"{k} must be in [{lo:g}, {hi:g}], got {v}" for k, (v, lo, hi) in fractions.items() if not lo <= v <= hi]
    if len(r.optimizer.betas) != 2 or not all(0.0 <= b < 1.0 for b in r.optimizer.betas):
        out.append(f"optimizer.betas must be two numbers in [0, 1), got {r.optimizer.betas}")
    if r.objective.input_noise < 0:
        out.append(f"objective.input_noise must be >= 0 (0: no noise), got {r.objective.input_noise}")
    if r.optimizer.weight_decay < 0:
        out.append(f"optimizer.weight_decay must be >= 0, got {r.optimizer.weight_decay}")
    micro = r.schedule.micro_batch
    if micro != "auto" and not (isinstance(micro, int) and micro > 0):
        out.append(f'schedule.micro_batch must be "auto" or a positive integer, got {micro!r}')
    if r.run.save_every < 0:
        out.append(f"run.save_every must be >= 0 (0: only at the end), got {r.run.save_every}")
    if r.lora.enabled and not r.lora.target_modules:
        out.append("lora.target_modules is empty: name at least one module pattern, or set lora.enabled = false")
    return out
