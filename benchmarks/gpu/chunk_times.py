"""Per-chunk generation seconds of a `stickeval run` directory, then the run's own timing.

    python benchmarks/gpu/chunk_times.py RUN_DIR

Each cached chunk stores the seconds of its rows; the first chunk of a --compile run includes the
compilation, the later ones give the steady rate.
"""

import json
import sys
from pathlib import Path

import numpy as np

run_dir = Path(sys.argv[1])
for path in sorted(run_dir.glob("generations/*/rows-*.npz")):
    seconds = np.load(path)["seconds"]
    print(f"{path.name[:21]}  rows {len(seconds):5d}  generation {seconds.sum():7.2f} s  {len(seconds) / seconds.sum():7.1f} seq/s")
timing = json.loads((run_dir / "results.json").read_text())["timing"]
print(json.dumps(timing))
