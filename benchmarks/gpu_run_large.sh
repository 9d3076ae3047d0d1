#!/usr/bin/env bash
# End-to-end `stickeval run` of a large-size model (random weights) on the standard suite, on one GPU.
#   bash benchmarks/gpu_run_large.sh "$OUT" [extra `stickeval run` flags, e.g. --compile]
set -euo pipefail
out=${1:?output directory}
mkdir -p "$out"
python - <<'PY'
import torch
from stickeval.zoo import ModelConfig, StickFigureTransformer, save_checkpoint
torch.manual_seed(0)
save_checkpoint(StickFigureTransformer(ModelConfig(d_model=512, nhead=16, num_layers=10)), "/tmp/large-random",
                metadata={"encoder": "hash"})
PY
start=$(date +%s)
python -m stickeval run /tmp/large-random --suite standard "${@:2}" -o "$out/run-large" --json > "$out/run-large.json"
echo "end-to-end seconds (model load, suite, generation, scoring): $(( $(date +%s) - start ))"
python -c "import json; r=json.load(open('$out/run-large.json')); print(r['config']['rows'], 'rows;', r['timing'])"
