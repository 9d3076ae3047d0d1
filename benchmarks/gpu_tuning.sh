#!/usr/bin/env bash
# Does the prefix length of a compiled step's first call (where inductor times its kernels' launch
# configurations) change the step's speed at the typical length? Then `bench` and the end-to-end
# run with the shipped step (tuned by generation.CompiledStep.tune). Each in an inductor cache of its own.
#   bash benchmarks/gpu_tuning.sh OUT
set -uo pipefail
out=${1:?output directory}
export PYTHONPATH=$PWD PYTHONPYCACHEPREFIX=/tmp/pyc
unset PYTHONDONTWRITEBYTECODE
profile() {  # cache name, then gpu_profile.py flags
  echo "## $*"
  TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-$1 python benchmarks/gpu_profile.py --compile --lengths 126 "${@:2}" > "$out/profile-$1.txt" 2>&1
  grep -E "^step|silu|flash_attention__to" "$out/profile-$1.txt" | head -3 | cut -c1-62,160-
}
profile whole-first-2 --whole --first-length 2
profile whole-first-124 --whole --first-length 124
profile shipped-first-2 --first-length 2
TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-bench python benchmarks/gpu_generate.py --sizes large --compile 1 --correctness 0 --out "$out/gen.json" 2>&1 | tail -4
export TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-run
bash benchmarks/gpu_run_large.sh /tmp/cold --compile 2>&1 | tail -2
python benchmarks/gpu_chunk_times.py /tmp/cold/run-large
s=$(date +%s.%N)
START=$s python benchmarks/run_timeline.py "$out/warm.timeline.json" run /tmp/large-random --suite standard --compile --json -o /tmp/warm > /tmp/warm.json 2>/dev/null
echo "warm end to end: $(python -c "print(f'{$(date +%s.%N) - $s:.2f}')") s; $(python -c "import json; print(json.load(open('/tmp/warm.json'))['timing'])")"
python benchmarks/gpu_chunk_times.py /tmp/warm
