#!/usr/bin/env bash
# Scale-out on 2 GPUs of one host (goal: 2 GPUs >= 1.8x one); not yet measured.
#   bash benchmarks/gpu/scale_out.sh OUT
# 1. `stickeval run` of a large-size model (random weights, gpu/large_random.py) on the standard suite (2,394
#    rows) on 1 process, then 2 processes (`--nproc 2`, i.e. torchrun): generation throughput = rows /
#    fill_seconds of run.json, end-to-end wall seconds, and the ratio; the numbers must agree. Done twice: with
#    the default CUDA chunk (1,024 rows: 3 chunks, so 2 ranks split them 2:1 and the ideal ratio is 1.75x) and
#    with --chunk-rows 600 (4 chunks, 2:2, ideal 2x).
# 2. sft-large training step time on 1 process (batch 2 x grad_accum 64) and on 2 (batch 2 x grad_accum 32 x 2
#    processes: the same global batch 128), as samples/s from train_log.jsonl after 5 warm-up steps, and the ratio.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output directory}
steps=${STEPS:-30}
python=${PYTHON:-python3}
export PYTHONPATH="$(cd "$here/../.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$out"
nvidia-smi -L
"$python" "$here/large_random.py" /tmp/large-random
"$python" - "$out" <<'PY'
import sys
from pathlib import Path
from stickeval.data import load_suite, save_dataset, suite_to_samples
from stickeval.text import get_encoder
suite = load_suite("standard", split="train")  # speed does not depend on the embeddings' values: hash at 1024 dims
save_dataset(suite_to_samples(suite, get_encoder("hash", dim=1024).encode(list(suite.prompts))), Path(sys.argv[1]) / "train.pt")
PY

run_once() {  # run_once NAME NPROC [flags]: one `stickeval run`, its wall seconds into $out/NAME.seconds
  local name=$1 nproc=$2; shift 2
  local start=$EPOCHREALTIME
  "$python" -m stickeval run /tmp/large-random --suite standard --no-resume --nproc "$nproc" "$@" -o "$out/$name" --json > "$out/$name.json"
  "$python" -c "print($EPOCHREALTIME - $start)" > "$out/$name.seconds"
}
for chunk in default 600; do
  flags=(); [ "$chunk" = default ] || flags=(--chunk-rows "$chunk")
  run_once "run-1-$chunk" 1 "${flags[@]}"
  run_once "run-2-$chunk" 2 "${flags[@]}"
done
"$python" - "$out" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
for chunk in ("default", "600"):
    rate, wall, metrics = {}, {}, {}
    for n in (1, 2):
        run = json.loads((out / f"run-{n}-{chunk}" / "run.json").read_text())
        rate[n] = len(run["roles"]) / run["fill_seconds"]
        wall[n] = float((out / f"run-{n}-{chunk}.seconds").read_text())
        metrics[n] = json.loads((out / f"run-{n}-{chunk}" / "results.json").read_text())["metrics"]
    same = all(abs((metrics[1][k]["mean"] or 0) - (metrics[2][k]["mean"] or 0)) <= 1e-3 * max(1e-9, abs(metrics[1][k]["mean"] or 0))
               for k in metrics[1])
    print(f"run large, standard suite, chunk {chunk}: 1 GPU {rate[1]:.1f} rows/s ({wall[1]:.0f} s end to end), "
          f"2 GPUs {rate[2]:.1f} rows/s ({wall[2]:.0f} s); generation ratio {rate[2] / rate[1]:.2f}x, "
          f"end-to-end ratio {wall[1] / wall[2]:.2f}x; metric means agree (1e-3 relative, bf16): {same}")
PY

train_once() {  # train_once NAME NPROC GRAD_ACCUM
  local name=$1 nproc=$2 accum=$3
  "$python" -m torch.distributed.run --standalone --nproc-per-node "$nproc" -m stickeval train --recipe sft-large \
    --data "$out/train.pt" --set 'model.init_from=""' --set run.save_every=0 --set run.log_every=1 \
    --set schedule.grad_accum="$accum" --max-steps "$steps" -o "$out/$name" --json > "$out/$name.json"
}
train_once train-1 1 64
train_once train-2 2 32
"$python" - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
rate = {}
for n in (1, 2):
    log = [json.loads(l) for l in (out / f"train-{n}" / "train_log.jsonl").read_text().splitlines()]
    rate[n] = statistics.median(l["samples_per_s"] for l in log if l.get("samples_per_s") and l["step"] > 5)
print(f"sft-large, global batch 128: 1 GPU {rate[1]:.1f} samples/s ({128 / rate[1]:.2f} s/step), "
      f"2 GPUs {rate[2]:.1f} samples/s ({128 / rate[2]:.2f} s/step); ratio {rate[2] / rate[1]:.2f}x")
PY
