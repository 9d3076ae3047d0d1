"""The model zoo: variants read from `variants.toml` (plus a user's `--zoo` file) into frozen dataclasses.

Wherever stickeval takes a variant, it accepts a zoo name (`large-sft`), a Hub repo id
(`org/name`) or a local checkpoint directory; `resolve_variant` turns any of them into a `Variant`.
A user's zoo file adds variants or overrides single keys of packaged ones (e.g. pins a revision);
every problem in it is reported at once in one `ZooFileError`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from stickeval.data.schema import SCHEMAS, schema_for_name
from stickeval.errors import UnknownVariantError, ZooFileError, did_you_mean
from stickeval.zoo.checkpoint import WEIGHT_FILES
from stickeval.zoo.model import ModelConfig, count_parameters

PACKAGED_ZOO = Path(__file__).with_name("variants.toml")
BUILTIN_DIR = Path(__file__).with_name("builtin")  # built-in weights: builtin/<name>/model.safetensors
SOURCES = ("hub", "builtin", "local")
SCHEMA_NAMES = tuple(schema.name for schema in SCHEMAS.values())
ARCHITECTURE_KEYS = ("schema", "d_model", "nhead", "num_layers", "embedding_dim", "num_actions")
REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class Variant:
    """One zoo entry (see variants.toml for what each field means). Unknown facts are None."""

    name: str
    source: str = "hub"
    repo_id: str | None = None
    revision: str | None = "main"  # None for built-in and local variants
    weight_files: tuple[str, ...] = WEIGHT_FILES
    schema: str | None = None
    encoder: str | None = None
    n_params: int | None = None
    d_model: int | None = None
    nhead: int | None = None
    num_layers: int | None = None
    embedding_dim: int | None = None
    num_actions: int | None = None
    recipe: str | None = None
    base: str | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    path: str | None = None  # source "local": the checkpoint directory; "builtin": overrides builtin/<name>/

    @property
    def is_lora(self) -> bool:
        """Whether the variant holds LoRA adapters to merge into `base`."""
        return self.base is not None

    @property
    def builtin_dir(self) -> Path:
        """Where a built-in variant's weights live: inside the package, or `path` when a zoo file sets it."""
        return Path(self.path) if self.path else BUILTIN_DIR / self.name

    def architecture(self) -> dict[str, str | int]:
        """The architecture keys this entry sets (of ARCHITECTURE_KEYS), for checking loaded weights against."""
        return {key: getattr(self, key) for key in ARCHITECTURE_KEYS if getattr(self, key) is not None}

    def model_config(self) -> ModelConfig | None:
        """The model the entry describes, when it sets every architecture key (else None).

        Loading never uses it (the architecture is inferred from the weights); it is what the entry's
        n_params is checked against, and it builds a variant's model without its weights.
        """
        arch = self.architecture()
        if len(arch) < len(ARCHITECTURE_KEYS):
            return None
        dim = schema_for_name(arch.pop("schema")).dim
        return ModelConfig(input_dim=dim, output_dim=dim, **arch)

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        doc = asdict(self)
        doc["weight_files"] = list(self.weight_files)
        return doc


# key -> (accepted types, what the error calls it); bool is excluded from int explicitly below
_KEY_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "source": ((str,), "a string"),
    "repo_id": ((str,), "a string"),
    "revision": ((str,), "a string"),
    "weight_files": ((list,), "a list of file names"),
    "schema": ((str,), "a string"),
    "encoder": ((str,), "a string"),
    "n_params": ((int,), "an integer"),
    "d_model": ((int,), "an integer"),
    "nhead": ((int,), "an integer"),
    "num_layers": ((int,), "an integer"),
    "embedding_dim": ((int,), "an integer"),
    "num_actions": ((int,), "an integer"),
    "recipe": ((str,), "a string"),
    "base": ((str,), "a string"),
    "lora_rank": ((int,), "an integer"),
    "lora_alpha": ((int, float), "a number"),
    "path": ((str,), "a string"),
}


def _read_toml(path: Path) -> dict:
    if not path.is_file():
        raise ZooFileError(f"Zoo file {path} does not exist. Pass an existing TOML file to --zoo.", path=str(path))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ZooFileError(f"Zoo file {path} is not valid TOML ({e}). Fix the syntax; see docs/zoo.md.", path=str(path)) from e


def _key_problems(name: str, table: object) -> list[str]:
    """Unknown keys and wrongly typed values of one table."""
    if not isinstance(table, dict):
        return [f"{name}: must be a table of key = value lines, got {table!r}"]
    problems = []
    for key, value in table.items():
        if key not in _KEY_TYPES:
            problems.append(f"{name}: unknown key '{key}'.{did_you_mean(key, _KEY_TYPES)}")
            continue
        types, described = _KEY_TYPES[key]
        if not isinstance(value, types) or isinstance(value, bool):
            problems.append(f"{name}: {key} must be {described}, got {value!r}")
        elif key == "weight_files" and (not value or not all(isinstance(v, str) for v in value)):
            problems.append(f"{name}: weight_files must be a non-empty list of file names, got {value!r}")
        elif isinstance(value, int) and key != "lora_alpha" and value <= 0:
            problems.append(f"{name}: {key} must be positive, got {value}")
    return problems


def _entry_problems(name: str, entry: dict, names: set[str]) -> list[str]:
    """Rules on a complete (merged) entry: source, repo id, schema, LoRA base, n_params against the architecture."""
    problems = []
    source = entry.get("source", "hub")
    if source not in SOURCES:
        problems.append(f"{name}: source must be one of {', '.join(SOURCES)}, got {source!r}")
    if source == "hub" and not REPO_ID.match(str(entry.get("repo_id", ""))):
        problems.append(f'{name}: needs repo_id = "org/name" (got {entry.get("repo_id")!r})')
    if source == "local" and not entry.get("path"):
        problems.append(f'{name}: source "local" needs path = "<checkpoint directory>"')
    if entry.get("schema") is not None and entry["schema"] not in SCHEMA_NAMES:
        problems.append(f"{name}: schema must be one of {', '.join(SCHEMA_NAMES)}, got {entry['schema']!r}")
    elif entry.get("n_params") is not None:
        config = Variant(name=name, **{key: entry.get(key) for key in ARCHITECTURE_KEYS}).model_config()
        if config is not None and count_parameters(config) != entry["n_params"]:
            problems.append(
                f"{name}: n_params {entry['n_params']:,} does not match its architecture, which has {count_parameters(config):,} parameters"
            )
    if entry.get("base") is not None:
        if entry["base"] not in names:
            problems.append(f"{name}: base '{entry['base']}' is not a variant in the zoo")
        if entry.get("lora_alpha") is None:
            problems.append(f"{name}: a LoRA variant (with base) needs lora_alpha")
    return problems


def load_zoo(zoo: str | Path | None = None) -> dict[str, Variant]:
    """The packaged zoo, with a user's TOML file laid over it.

    Args:
        zoo: a TOML file of variant tables; a table whose name is already in the zoo overrides
            only the keys it sets.

    Returns:
        name -> Variant, packaged variants first, in file order.

    Raises:
        ZooFileError: the file is missing, not TOML, or has bad entries (all listed in one message).
    """
    source, tables = PACKAGED_ZOO, _read_toml(PACKAGED_ZOO)
    given = tables  # the tables whose keys are checked: the user's when there is a user file
    if zoo is not None:
        source, given = Path(zoo).expanduser(), _read_toml(Path(zoo).expanduser())
        tables = {**tables, **{name: {**tables.get(name, {}), **table} for name, table in given.items() if isinstance(table, dict)}}
    problems, whole = [], []
    for name, table in given.items():
        found = _key_problems(name, table)
        problems += found
        if not found:
            whole.append(name)
    # Whole-entry rules only for entries whose keys are right, so one typo gives one message.
    problems += [p for name in whole for p in _entry_problems(name, tables[name], set(tables))]
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        raise ZooFileError(
            f"{source} has {count}: {'; '.join(problems)}. See docs/zoo.md for the keys.",
            problems=problems,
            path=str(source),
        )
    variants = {}
    for name, entry in tables.items():
        if "weight_files" in entry:
            entry["weight_files"] = tuple(entry["weight_files"])
        if entry.get("source", "hub") != "hub":
            entry["revision"] = None
        variants[name] = Variant(name=name, **entry)
    return variants


def resolve_variant(spec: str, zoo: str | Path | None = None) -> Variant:
    """Turn a zoo name, a Hub repo id or a local path into a Variant.

    A zoo name wins; then an existing local path (a checkpoint directory or weights file); then a
    repo id (the zoo entry with that repo, else an ad-hoc Hub variant at `main`).

    Raises:
        UnknownVariantError: none of the three, with close zoo names suggested.
        ZooFileError: as `load_zoo`.
    """
    variants = load_zoo(zoo)
    if spec in variants:
        return variants[spec]
    path = Path(spec).expanduser()
    if path.exists():
        return Variant(name=spec, source="local", path=str(path.resolve()), revision=None)
    if REPO_ID.match(spec) and not spec.startswith((".", "~")):
        for variant in variants.values():
            if variant.repo_id == spec:
                return variant
        return Variant(name=spec, source="hub", repo_id=spec)
    raise UnknownVariantError(spec, variants)
