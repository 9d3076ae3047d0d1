#!/usr/bin/env bash
# Does the prefix length of a compiled step's first call (where inductor times its kernels' launch
# configurations) change the step's speed at the typical length? Then `bench` and the end-to-end
# run with the shipped step (tuned by generation.CompiledStep.tune). Each in an inductor cache of its own.
#   bash benchmarks/experiments/kernel_tuning.sh OUT
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output directory}
mkdir -p "$out"
export PYTHONPATH="$(cd "$here/../.." && pwd)" PYTHONPYCACHEPREFIX=/tmp/pyc
unset PYTHONDONTWRITEBYTECODE
profile() {  # cache name, then step_profile.py flags
  echo "## $*"
  TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-$1 python "$here/step_profile.py" --compile --lengths 126 "${@:2}" > "$out/profile-$1.txt" 2>&1
  grep -E "^step|silu|flash_attention__to" "$out/profile-$1.txt" | head -3 | cut -c1-62,160-
}
profile whole-first-2 --whole --first-length 2
profile whole-first-124 --whole --first-length 124
profile shipped-first-2 --first-length 2
TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-bench python "$here/../gpu/engine.py" --sizes large --compile 1 --correctness 0 --out "$out/engine.json" 2>&1 | tail -4
export TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-run
bash "$here/../gpu/run_large.sh" /tmp/run-large --compile 2>&1
s=$(date +%s.%N)
START=$s python "$here/run_timeline.py" "$out/warm.timeline.json" run /tmp/large-random --suite standard --compile --json -o /tmp/warm > /tmp/warm.json 2>/dev/null
echo "warm end to end (under run_timeline.py): $(python -c "print(f'{$(date +%s.%N) - $s:.2f}')") s; $(python -c "import json; print(json.load(open('/tmp/warm.json'))['timing'])")"
python "$here/../gpu/chunk_times.py" /tmp/warm
