"""Optional libraries of the report package, imported on first use with a one-line error when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from stickeval.errors import MissingDependencyError

EXTRA = "report"  # the pyproject extra that installs Pillow, matplotlib and imageio-ffmpeg


def require(module: str, package: str, purpose: str) -> ModuleType:
    """Import `module` (from the PyPI package `package`), or raise MissingDependencyError naming `purpose`."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, purpose, EXTRA) from None
