"""Per-chunk generation seconds of a run directory (the first chunk of a --compile run includes compilation).

python benchmarks/gpu_chunk_times.py RUN_DIR
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
