"""stickeval: evaluation suite, benchmark and model-zoo CLI for Stick-Gen text-to-motion models.

    from stickeval import zoo, generate, evaluate, RunSettings
    loaded = zoo.load("large-sft")
    results = evaluate(loaded, RunSettings(suite="standard"), "runs/large-sft")

The public names are loaded on first use (PEP 562), so `import stickeval.metrics` or
`import stickeval.data` costs numpy, not torch, the zoo or huggingface_hub (metrics score
arrays; docs/design.md has the layers). `generate` lives in `stickeval.generation`, `evaluate` in `stickeval.evaluation.run`.
"""

from __future__ import annotations

import importlib
from typing import Any

from stickeval.version import __version__

# Public name -> (module, attribute of that module; None for the module itself).
_LAZY = {
    "errors": ("stickeval.errors", None),
    "zoo": ("stickeval.zoo", None),
    "generate": ("stickeval.generation", "generate"),
    "Rollout": ("stickeval.generation", "Rollout"),
    "evaluate": ("stickeval.evaluation.run", "evaluate"),
    "score": ("stickeval.evaluation.run", "score"),
    "RunSettings": ("stickeval.evaluation.run", "RunSettings"),
}

__all__ = ["RunSettings", "Rollout", "__version__", "errors", "evaluate", "generate", "score", "zoo"]


def __getattr__(name: str) -> Any:
    """Import a public name on first access."""
    if name not in _LAZY:
        raise AttributeError(f"module 'stickeval' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
