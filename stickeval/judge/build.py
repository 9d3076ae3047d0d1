"""Rebuild the shipped StickBench evaluator: `python -m stickeval.judge.build stickbench`.

Trains on StickBench standard's train split with the default seed and settings, measures it on the
test split and writes `weights/stickbench/` (safetensors + manifest.json with sha256s). Seeded and
single-threaded: rerunning it on one machine gives the same bytes. Progress goes to the log.
"""

from __future__ import annotations

import logging
import sys

from stickeval.judge.bundle import save_evaluator
from stickeval.judge.domains import SHIPPED_DIR, build_evaluator

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    """Build the domain named in argv ("stickbench") into the package's weights directory."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["stickbench"]:
        log.error("usage: python -m stickeval.judge.build stickbench  (the real track's is never shipped)")
        return 2
    evaluator = build_evaluator("stickbench")
    path = save_evaluator(evaluator, SHIPPED_DIR / "stickbench")
    log.info("wrote %s: %s", path, evaluator.manifest["held_out"])
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
