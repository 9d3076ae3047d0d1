"""Where the CLI writes: data to stdout (tables or one JSON document), everything else to stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Print `data` as a single JSON document on stdout (machine-readable, no colours)."""
    print(json.dumps(data, indent=2, default=str))
