"""Pull, load, describe and push variants: from a zoo name to a model in eval mode with its provenance.

`pull` downloads into the standard HF cache and checks that the weights load with the architecture
and parameter count the zoo entry declares; `load` reads from the cache (no request when cached,
so it works with HF_HUB_OFFLINE=1); `push` uploads a directory written by `save_checkpoint`. LoRA
variants fetch their base too and are merged at load time: the zoo entry's `base`, or for a peft
adapter directory the `base_model_name_or_path` of its adapter_config.json. Every result carries one
`Provenance`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from stickeval import hub
from stickeval.errors import (
    ArchitectureMismatchError,
    CheckpointError,
    HubError,
    NoRevisionsError,
    ParameterCountError,
    UnknownVariantError,
    WeightsNotBuiltError,
)
from stickeval.hub import PushResult
from stickeval.zoo import builtin_weights
from stickeval.zoo.checkpoint import (
    CONFIG_FILE,
    WEIGHT_FILES,
    load_checkpoint,
    read_config_json,
    resolve_weights_file,
    schema_name,
)
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters
from stickeval.zoo.peft_adapters import PEFT_CONFIG_FILE, is_peft_weights, read_peft_config
from stickeval.zoo.provenance import Provenance
from stickeval.zoo.registry import REPO_ID, Variant, resolve_variant

log = logging.getLogger(__name__)

PUSH_FILES = (*WEIGHT_FILES, CONFIG_FILE, hub.CARD_FILE)  # what `save_checkpoint` (and a card) put in a directory


@dataclass(frozen=True)
class PulledModel:
    """A variant's files on disk, checked to load."""

    provenance: Provenance
    n_params: int  # counted in the loaded (merged) model
    expected_n_params: int | None  # the zoo's figure, when it has one

    def to_dict(self) -> dict:
        """JSON-ready: the provenance fields plus both parameter counts."""
        return {**self.provenance.to_dict(), "n_params": self.n_params, "expected_n_params": self.expected_n_params}


@dataclass(frozen=True)
class LoadedModel:
    """A model in eval mode with where it came from."""

    model: StickFigureTransformer
    config: ModelConfig
    provenance: Provenance
    encoder: str | None  # the text encoder the model expects
    schema: str  # "v1" or "v3" (read from the weights), "<n>-dim" for another width
    n_params: int

    def to_dict(self) -> dict:
        """The model block of a results file: provenance, encoder, schema, parameters and architecture."""
        return {
            **self.provenance.to_dict(),
            "encoder": self.encoder,
            "schema": self.schema,
            "n_params": self.n_params,
            "config": self.config.to_dict(),
        }


def _locate(variant: Variant, revision: str | None, *, zoo: str | Path | None, force: bool, cached_only: bool) -> Provenance:
    """Find a variant's weights (and its LoRA base's, named by the zoo entry or by a peft adapter_config.json):
    in the package, a local path, or the HF cache (fetching if needed)."""
    found = _files(variant, revision, force=force, cached_only=cached_only)
    base = variant.base or _peft_base(found.weights)
    if base is not None:
        found = replace(found, base=_locate(_base_variant(base, found.weights, zoo), None, zoo=zoo, force=force, cached_only=cached_only))
    return found


def _peft_base(weights: Path) -> str | None:
    """The base model a peft adapter directory names; None for other weights.

    Raises:
        CheckpointError: the adapter_config.json names no base model (peft records the wrapped model's
            `name_or_path`, which `load` sets and a model built by hand lacks).
    """
    if not is_peft_weights(weights):
        return None
    base = read_peft_config(weights.parent).base
    if base is None:
        config = weights.parent / PEFT_CONFIG_FILE
        raise CheckpointError(
            f"{config} names no base model (base_model_name_or_path is null). Set it to the zoo name or checkpoint "
            'directory the adapters were trained on, or load them through a --zoo entry with `base = "<variant>"`.',
            path=str(config),
        )
    return base


def _base_variant(base: str, weights: Path, zoo: str | Path | None) -> Variant:
    """The variant of a LoRA base named by a zoo entry or a peft adapter_config.json.

    Raises:
        UnknownVariantError: a zoo entry's base is unknown (the zoo file's check names it first).
        CheckpointError: the base a peft adapter_config.json names is neither a zoo name, a path nor a repo id.
    """
    try:
        return resolve_variant(base, zoo)
    except UnknownVariantError:
        if not is_peft_weights(weights):
            raise
        raise CheckpointError(
            f"{weights.parent / PEFT_CONFIG_FILE} names base model '{base}', which is not a zoo name, checkpoint path or repo id. "
            'Fix its base_model_name_or_path, or load the adapters through a --zoo entry with `base = "<variant>"`.',
            path=str(weights.parent / PEFT_CONFIG_FILE),
        ) from None


def check_revision(variant: Variant, revision: str | None) -> None:
    """Refuse a revision for a variant that has none, instead of ignoring it.

    Raises:
        NoRevisionsError: a revision for a built-in or local variant (only Hub repos have revisions).
    """
    if revision is not None and variant.source != "hub":
        what = "built into stickeval" if variant.source == "builtin" else "a local checkpoint"
        raise NoRevisionsError(f"{variant.name} is {what} and has no revisions; drop --revision.")


def _files(variant: Variant, revision: str | None, *, force: bool, cached_only: bool) -> Provenance:
    """Where a variant's weights are: in the package, at a local path, or in the HF cache (fetched if needed).

    Raises:
        NoRevisionsError: a revision for a built-in or local variant, which have none.
        WeightsNotBuiltError, CheckpointError, HubError: the weights are not there.
    """
    check_revision(variant, revision)
    if variant.source == "builtin":
        for name in variant.weight_files:
            if (variant.builtin_dir / name).is_file():
                builtin_weights.verify(variant.builtin_dir)  # a damaged installation is refused before loading
                return Provenance(variant.name, "builtin", None, None, None, variant.builtin_dir, variant.builtin_dir / name)
        raise WeightsNotBuiltError(variant.name, str(variant.builtin_dir))
    if variant.source == "local":
        weights = resolve_weights_file(variant.path)
        return Provenance(variant.name, "local", None, None, None, weights.parent, weights)
    revision = revision or variant.revision
    found = hub.cached_snapshot(variant.repo_id, revision, variant.weight_files) if cached_only and not force else None
    if found is None:
        companions = (CONFIG_FILE, PEFT_CONFIG_FILE, hub.CARD_FILE)
        found = hub.fetch(variant.repo_id, revision, variant.weight_files, companions=companions, name=variant.name, force=force)
    return Provenance(variant.name, "hub", variant.repo_id, revision, found.commit_sha, found.path, found.weights)


def _load(variant: Variant, found: Provenance, *, device: str, strict: bool) -> tuple[StickFigureTransformer, ModelConfig]:
    """Load located weights (LoRA adapters merged into the base) and check them against the zoo entry.

    Raises:
        CheckpointError: unreadable weights; for a Hub download, the message says how to fetch it again.
    """
    try:
        model, config = load_checkpoint(
            found.weights,
            base=found.base.weights if found.base else None,
            lora_alpha=variant.lora_alpha,
            lora_rank=variant.lora_rank,
            map_location=device,
        )
    except CheckpointError as e:
        downloaded = [p for p in (found, found.base) if p is not None and p.source == "hub"]
        if not downloaded or e.path is None or not any(Path(e.path).is_relative_to(p.path) for p in downloaded):
            raise
        raise CheckpointError(f"{e} It is a Hub download: `stickeval pull {variant.name} --force` fetches it again.", path=e.path) from e
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
        revision: branch, tag or commit sha; default the zoo's (usually `main`). Only Hub variants have revisions.
        force: download again even if cached.
        zoo: a TOML file of extra or overriding variants.
        strict: an architecture or parameter count other than the zoo entry's is an error instead of a warning.

    Returns:
        Where the files are, the commit they came from and the counted parameters (LoRA: with its base's).

    Raises:
        UnknownVariantError, ZooFileError: the name or zoo file is bad.
        NoRevisionsError: `revision` for a built-in variant or a local checkpoint.
        HubError: the download failed (one line: offline with a cold cache, unreachable, missing, gated...).
        WeightsNotBuiltError: a built-in variant has no weights yet.
        CheckpointError: the weights (or their config.json) do not load.
        ArchitectureMismatchError, ParameterCountError: with `strict`, the weights differ from the zoo entry.
    """
    variant = resolve_variant(name, zoo)
    found = _locate(variant, revision, zoo=zoo, force=force, cached_only=False)
    if found.base is not None:  # the base must load on its own too
        _load(resolve_variant(found.base.variant, zoo), found.base, device="cpu", strict=strict)
    _, config = _load(variant, found, device="cpu", strict=strict)
    return PulledModel(found, n_params=count_parameters(config), expected_n_params=variant.n_params)


def load(name: str, *, revision: str | None = None, zoo: str | Path | None = None, device: str = "cpu") -> LoadedModel:
    """Load a variant for inference, from the HF cache when it is there (no request), else pulling it.

    Args:
        name: zoo name, `org/name` repo id or local directory.
        revision: branch, tag or commit sha; default the zoo's. Only Hub variants have revisions.
        zoo: a TOML file of extra or overriding variants.
        device: where to put the weights.

    Returns:
        The model in eval mode, its config, provenance (for LoRA with its base's), encoder, schema
        and parameter count.

    Raises:
        As `pull` (differences from the zoo entry are warnings); offline with a cold cache it says
        which `stickeval pull` to run.
    """
    variant = resolve_variant(name, zoo)
    found = _locate(variant, revision, zoo=zoo, force=False, cached_only=True)
    model, config = _load(variant, found, device=device, strict=False)
    model.name_or_path = variant.path if variant.source == "local" else variant.name
    return LoadedModel(
        model=model,
        config=config,
        provenance=found,
        encoder=_encoder(variant, found, zoo),
        schema=_schema_label(config),
        n_params=count_parameters(config),
    )


def _encoder(variant: Variant, found: Provenance, zoo: str | Path | None) -> str | None:
    """The text encoder a model expects: its zoo entry's, its config.json's, else (adapters) its base's."""
    encoder = variant.encoder or (read_config_json(found.path) or {}).get("encoder")
    if encoder is None and found.base is not None:
        encoder = resolve_variant(found.base.variant, zoo).encoder or (read_config_json(found.base.path) or {}).get("encoder")
    return encoder


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
            cached = {"revision": variant.revision, "commit_sha": snapshot.commit_sha, "path": str(snapshot.path)}
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
