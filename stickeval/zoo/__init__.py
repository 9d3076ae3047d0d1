"""The model zoo: list, pull, load and push Stick-Gen variants.

A variant is a zoo name (`large-sft`, see `variants.toml`), a Hub repo id (`org/name`) or a local
checkpoint directory. The zoo itself is `registry.py`, the Hub I/O `hub.py`, and the path from a
name to a model with its `Provenance` is `loading.py`; this package re-exports the public API.

Example:
    >>> from stickeval import zoo
    >>> loaded = zoo.load("large-sft")            # pulls on first use
    >>> loaded.model, loaded.provenance.commit_sha, loaded.encoder
"""

from __future__ import annotations

from pathlib import Path

from stickeval.hub import PushResult
from stickeval.zoo.checkpoint import load_checkpoint, save_checkpoint
from stickeval.zoo.loading import LoadedModel, PulledModel, describe_variant, load, pull, push
from stickeval.zoo.model import ModelConfig, StickFigureTransformer, count_parameters
from stickeval.zoo.provenance import Provenance
from stickeval.zoo.registry import Variant, load_zoo, resolve_variant

__all__ = [
    "LoadedModel",
    "ModelConfig",
    "Provenance",
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
