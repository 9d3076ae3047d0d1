"""stickeval: evaluation suite, benchmark and model-zoo CLI for Stick-Gen text-to-motion models.

    from stickeval import zoo, generate, evaluate, RunSettings
    loaded = zoo.load("large-sft")
    results = evaluate(loaded, RunSettings(suite="standard"), "runs/large-sft")

The public names are loaded on first use, so `import stickeval.metrics` or `import stickeval.data`
costs numpy and not torch, the zoo or huggingface_hub (DESIGN §2: metrics score arrays). As package
attributes, `generate` and `evaluate` are the functions (the API above); their modules stay
importable by full name: `from stickeval.generate import Rollout`.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# Public name -> (module, attribute of that module; None for the module itself).
_LAZY = {
    "errors": ("stickeval.errors", None),
    "zoo": ("stickeval.zoo", None),
    "generate": ("stickeval.generate", "generate"),
    "Rollout": ("stickeval.generate", "Rollout"),
    "evaluate": ("stickeval.evaluate", "evaluate"),
    "score": ("stickeval.evaluate", "score"),
    "RunSettings": ("stickeval.evaluate", "RunSettings"),
}
# Submodules whose package attribute is their function of the same name.
_FUNCTION_MODULES = ("generate", "evaluate")

__all__ = ["RunSettings", "Rollout", "__version__", "errors", "evaluate", "generate", "score", "zoo"]


def __getattr__(name: str) -> Any:
    """Import a public name on first access and keep it as a package attribute."""
    if name not in _LAZY:
        raise AttributeError(f"module 'stickeval' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """The package module: importing `stickeval.generate` or `stickeval.evaluate` keeps the function.

    Python's import system sets a submodule as an attribute of its package once it is loaded (any
    `from stickeval.generate import X` does). Here that attribute becomes the function of the same
    name, so `stickeval.generate` is the function whichever import ran first.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTION_MODULES and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
