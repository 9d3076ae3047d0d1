"""The model zoo: list, pull, load and push Stick-Gen variants.

A variant is a zoo name (`large-sft`, see `variants.toml`), a Hub repo id (`org/name`) or a local
checkpoint directory. `pull` downloads into the standard HF cache and checks that the weights load
with the architecture and parameter count the zoo entry declares; `load` reads from the cache (no
network when cached, so it works with HF_HUB_OFFLINE=1) and returns the model with its provenance;
`push` uploads a directory written by `save_checkpoint`. LoRA variants fetch their base too and are
merged at load time.

Example:
    >>> from stickeval import zoo
    >>> loaded = zoo.load("large-sft")            # pulls on first use
    >>> loaded.model, loaded.commit_sha, loaded.encoder
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from stickeval.errors import (
    ArchitectureMismatchError,
    CheckpointError,
    HubError,
    ParameterCountError,
    WeightsNotBuiltError,
)
from stickeval.zoo import hub
from stickeval.zoo.checkpoint import (
    CONFIG_FILE,
    WEIGHT_FILES,
    load_checkpoint,
    read_config_json,
    resolve_weights_file,
    save_checkpoint,
    schema_name,
)
from stickeval.zoo.hub import PushResult
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters
from stickeval.zoo.registry import REPO_ID, Variant, load_zoo, resolve_variant

__all__ = [
    "LoadedModel",
    "LoraBase",
    "ModelConfig",
    "PulledModel",
    "PushResult",
    "StickFigureTransformer",
    "Variant",
    "count_parameters",
    "describe_variant",
    "get_variant",
    "list_variants",
    "load",
    "load_checkpoint",
    "pull",
    "push",
    "save_checkpoint",
]

log = logging.getLogger(__name__)

PUSH_FILES = (*WEIGHT_FILES, CONFIG_FILE, hub.CARD_FILE)  # what `save_checkpoint` (and a card) put in a directory


def list_variants(zoo: str | Path | None = None) -> list[Variant]:
    """Every variant of the zoo (packaged, plus `zoo`'s), in file order.

    Raises:
        ZooFileError: `zoo` is missing or malformed.
    """
    return list(load_zoo(zoo).values())


def get_variant(name: str, zoo: str | Path | None = None) -> Variant:
    """The variant for a zoo name, an `org/name` repo id or a local path.

    Raises:
        UnknownVariantError: with "did you mean" suggestions.
        ZooFileError: `zoo` is missing or malformed.
    """
    return resolve_variant(name, zoo)


@dataclass(frozen=True)
class PulledModel:
    """A variant's files on disk, checked to load."""

    variant: str
    source: str  # "hub", "builtin" or "local"
    repo_id: str | None
    revision: str | None  # as asked (branch, tag or sha); None off the Hub
    commit_sha: str | None  # the commit the revision resolved to; None off the Hub
    path: Path  # directory holding the files
    weights: Path  # the weights file loaded
    n_params: int  # counted in the loaded (merged) model
    expected_n_params: int | None  # the zoo's figure, when it has one
    base: PulledModel | None = None  # LoRA: the base the adapters merge into

    def to_dict(self) -> dict:
        """JSON-ready fields (paths as strings)."""
        doc = asdict(self)
        doc.update(path=str(self.path), weights=str(self.weights), base=self.base.to_dict() if self.base else None)
        return doc


@dataclass(frozen=True)
class LoraBase:
    """Where a LoRA variant's base came from: the variant its adapters were merged into."""

    variant: str
    source: str
    repo_id: str | None
    revision: str | None
    commit_sha: str | None
    path: Path

    def to_dict(self) -> dict:
        """JSON-ready fields (the path as a string)."""
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with where it came from."""

    model: StickFigureTransformer
    config: ModelConfig
    variant: str
    source: str
    repo_id: str | None
    revision: str | None
    commit_sha: str | None
    path: Path
    encoder: str | None  # the text encoder the model expects
    schema: str  # "v1" or "v3" (read from the weights), "<n>-dim" for another width
    n_params: int
    base: LoraBase | None = None  # LoRA: the base the adapters were merged into

    def provenance(self) -> dict:
        """The model block of a results file: every field but the module itself (`base` is None unless LoRA)."""
        doc = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}
        doc.update(path=str(self.path), config=self.config.to_dict(), base=self.base.to_dict() if self.base else None)
        return doc


@dataclass(frozen=True)
class _Located:
    """A variant's files on disk and the commit they came from; for LoRA, its base's too."""

    variant: Variant
    path: Path
    weights: Path
    revision: str | None = None
    commit_sha: str | None = None
    base: _Located | None = None


def _locate(variant: Variant, revision: str | None, *, zoo: str | Path | None, force: bool, cached_only: bool) -> _Located:
    """Find a variant's weights (and its LoRA base's): in the package, a local path, or the HF cache (fetching if needed)."""
    located = _files(variant, revision, force=force, cached_only=cached_only)
    if variant.is_lora:
        base = _locate(resolve_variant(variant.base, zoo), None, zoo=zoo, force=force, cached_only=cached_only)
        located = replace(located, base=base)
    return located


def _files(variant: Variant, revision: str | None, *, force: bool, cached_only: bool) -> _Located:
    if variant.source == "builtin":
        for name in variant.weight_files:
            if (variant.builtin_dir / name).is_file():
                return _Located(variant, variant.builtin_dir, variant.builtin_dir / name)
        raise WeightsNotBuiltError(variant.name, str(variant.builtin_dir))
    if variant.source == "local":
        weights = resolve_weights_file(variant.path)
        return _Located(variant, weights.parent, weights)
    revision = revision or variant.revision
    snapshot = hub.cached_snapshot(variant.repo_id, revision, variant.weight_files) if cached_only and not force else None
    if snapshot is None:
        snapshot = hub.fetch(variant.repo_id, revision, variant.weight_files, name=variant.name, force=force)
    return _Located(variant, snapshot.path, snapshot.weights, snapshot.revision, snapshot.commit_sha)


def _load(located: _Located, *, device: str, strict: bool) -> tuple[StickFigureTransformer, ModelConfig]:
    """Load located weights (LoRA adapters merged into the base) and check them against the zoo entry."""
    variant = located.variant
    model, config = load_checkpoint(
        located.weights,
        base=located.base.weights if located.base else None,
        lora_alpha=variant.lora_alpha,
        lora_rank=variant.lora_rank,
        map_location=device,
    )
    _check_against_zoo(variant, config, strict=strict)
    return model, config


def _schema_label(config: ModelConfig) -> str:
    return schema_name(config.input_dim) or f"{config.input_dim}-dim"


def _check_against_zoo(variant: Variant, config: ModelConfig, *, strict: bool) -> None:
    """Compare the loaded architecture and parameter count with what the zoo entry declares.

    Raises:
        ArchitectureMismatchError, ParameterCountError: with `strict` (otherwise each is a logged warning).
    """
    loaded = {"schema": _schema_label(config), **config.to_dict()}
    differences = [f"{key} {loaded[key]} (zoo: {value})" for key, value in variant.architecture().items() if loaded[key] != value]
    if differences and strict:
        raise ArchitectureMismatchError(variant.name, differences)
    if differences:
        log.warning(
            "%s's weights do not match its zoo entry: %s; stickeval uses the weights' architecture.",
            variant.name,
            ", ".join(differences),
        )
    n_params = count_parameters(config)
    if variant.n_params is None or variant.n_params == n_params:
        return
    if strict:
        raise ParameterCountError(variant.name, variant.n_params, n_params)
    log.warning("%s has %s parameters but the zoo expects %s.", variant.name, f"{n_params:,}", f"{variant.n_params:,}")


def pull(
    name: str,
    *,
    revision: str | None = None,
    force: bool = False,
    zoo: str | Path | None = None,
    strict: bool = False,
) -> PulledModel:
    """Download a variant into the HF cache (if needed) and check that it loads with the expected size.

    Args:
        name: zoo name, `org/name` repo id or local directory.
        revision: branch, tag or commit sha; default the zoo's (usually `main`).
        force: download again even if cached.
        zoo: a TOML file of extra or overriding variants.
        strict: an architecture or parameter count other than the zoo entry's is an error instead of a warning.

    Returns:
        Where the files are, the commit they came from and the counted parameters (LoRA: with its base's).

    Raises:
        UnknownVariantError, ZooFileError: the name or zoo file is bad.
        HubError: the download failed (one line: offline with a cold cache, unreachable, missing, gated...).
        WeightsNotBuiltError: a built-in variant has no weights yet.
        CheckpointError: the weights (or their config.json) do not load.
        ArchitectureMismatchError, ParameterCountError: with `strict`, the weights differ from the zoo entry.
    """
    variant = resolve_variant(name, zoo)
    return _pulled(_locate(variant, revision, zoo=zoo, force=force, cached_only=False), strict=strict)


def _pulled(located: _Located, *, strict: bool) -> PulledModel:
    base = _pulled(located.base, strict=strict) if located.base else None  # the base must load on its own too
    _, config = _load(located, device="cpu", strict=strict)
    variant = located.variant
    return PulledModel(
        variant=variant.name,
        source=variant.source,
        repo_id=variant.repo_id,
        revision=located.revision,
        commit_sha=located.commit_sha,
        path=located.path,
        weights=located.weights,
        n_params=count_parameters(config),
        expected_n_params=variant.n_params,
        base=base,
    )


def load(name: str, *, revision: str | None = None, zoo: str | Path | None = None, device: str = "cpu") -> LoadedModel:
    """Load a variant for inference, from the HF cache when it is there (no request), else pulling it.

    Args:
        name: zoo name, `org/name` repo id or local directory.
        revision: branch, tag or commit sha; default the zoo's.
        zoo: a TOML file of extra or overriding variants.
        device: where to put the weights.

    Returns:
        The model in eval mode, its config and provenance (variant, repo, revision, commit sha,
        path, encoder, schema, parameter count; for LoRA, the base's variant, revision and commit sha).

    Raises:
        As `pull` (differences from the zoo entry are warnings); offline with a cold cache it says
        which `stickeval pull` to run.
    """
    variant = resolve_variant(name, zoo)
    located = _locate(variant, revision, zoo=zoo, force=False, cached_only=True)
    model, config = _load(located, device=device, strict=False)
    return LoadedModel(
        model=model,
        config=config,
        variant=variant.name,
        source=variant.source,
        repo_id=variant.repo_id,
        revision=located.revision,
        commit_sha=located.commit_sha,
        path=located.path,
        encoder=variant.encoder or (read_config_json(located.path) or {}).get("encoder"),
        schema=_schema_label(config),
        n_params=count_parameters(config),
        base=_lora_base(located.base),
    )


def _lora_base(base: _Located | None) -> LoraBase | None:
    if base is None:
        return None
    return LoraBase(base.variant.name, base.variant.source, base.variant.repo_id, base.revision, base.commit_sha, base.path)


def describe_variant(variant: Variant) -> dict:
    """What `stickeval zoo` shows for a variant: its zoo fields, cache state and card metrics (no request).

    Returns:
        The variant's fields plus `cached` ({revision, commit_sha, path}, or None) and
        `card_metrics` ({metric type: value} from the cached model card).
    """
    doc = variant.to_dict()
    cached, metrics = None, {}
    if variant.source == "hub":
        snapshot = hub.cached_snapshot(variant.repo_id, variant.revision, variant.weight_files)
        if snapshot is not None:
            cached = {"revision": snapshot.revision, "commit_sha": snapshot.commit_sha, "path": str(snapshot.path)}
            if (snapshot.path / hub.CARD_FILE).is_file():
                metrics = hub.read_card_metrics(snapshot.path / hub.CARD_FILE)
    else:
        directory = variant.builtin_dir if variant.source == "builtin" else Path(variant.path)
        if any((directory / f).is_file() for f in variant.weight_files) or directory.is_file():
            cached = {"revision": None, "commit_sha": None, "path": str(directory)}
    doc.update(cached=cached, card_metrics=metrics)
    return doc


def push(
    directory: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    create_pr: bool = False,
    endpoint: str | None = None,
) -> PushResult:
    """Upload a checkpoint directory (weights, config.json, README.md) to a Hub repo in one commit.

    The weights are loaded first, so a broken directory is refused before anything is sent.

    Args:
        directory: written by `save_checkpoint` (optionally with a README.md model card).
        repo_id: `org/name`; created if missing.
        private: create the repo private (ignored if it exists).
        create_pr: open a pull request instead of committing to main.
        endpoint: the Hub URL; default HF_ENDPOINT.

    Returns:
        The repo, commit sha, commit URL and pull-request URL (if any).

    Raises:
        CheckpointError: the directory is not a loadable checkpoint.
        HubError: bad repo id, offline, no token, or the Hub refused or failed.
    """
    directory = Path(directory)
    if not REPO_ID.match(repo_id):
        raise HubError(f"'{repo_id}' is not a Hub repo id. Pass org/name, e.g. GesturaAI/stick-gen-small.", repo_id=repo_id)
    if not directory.is_dir():
        raise CheckpointError(f"{directory} is not a directory. Pass a directory written by save_checkpoint.", path=str(directory))
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory} has no {CONFIG_FILE}. Pass a directory written by save_checkpoint.", path=str(directory))
    load_checkpoint(directory)
    filenames = [name for name in PUSH_FILES if (directory / name).is_file()]
    return hub.upload(directory, filenames, repo_id, private=private, create_pr=create_pr, endpoint=endpoint)

