#!/usr/bin/env bash
# Where the end-to-end time of `stickeval run` (large, random weights, standard suite, --compile) goes on
# one GPU, and what one compiled step runs there:
#   1. gpu/run_large.sh: a cold and a warm run (they fill inductor's, the classifier's and Python's bytecode caches),
#   2. warm runs under experiments/run_timeline.py: as shipped, then with inductor's compile workers off,
#   3. one step's GPU profile, compiled per layer (shipped) and whole, with the generated kernels kept.
# Python's bytecode cache is on, in /tmp/pyc: a machine that sets PYTHONDONTWRITEBYTECODE and ships
# site-packages without .pyc files would otherwise compile torch from source in every process (about 8 s).
#   bash benchmarks/experiments/run_profile.sh OUT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output directory}
mkdir -p "$out"
export PYTHONPATH="$(cd "$here/../.." && pwd)" PYTHONPYCACHEPREFIX=/tmp/pyc TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-run
unset PYTHONDONTWRITEBYTECODE
bash "$here/../gpu/run_large.sh" /tmp/run-large --compile > "$out/run-large.txt" 2>&1
timeline() {  # name, then env assignments
  local name=$1; shift
  local s; s=$(date +%s.%N)
  env "$@" START="$s" python "$here/run_timeline.py" "$out/$name.timeline.json" run /tmp/large-random --suite standard \
    --compile --json -o "/tmp/$name" > "/tmp/$name.json" 2>/dev/null
  echo "$name: $(python -c "print(f'{$(date +%s.%N) - $s:.2f}')") s end to end; $(python -c "import json; print(json.load(open('/tmp/$name.json'))['timing'])")" | tee -a "$out/end_to_end.txt"
}
timeline warm
timeline warm-compile-threads-1 TORCHINDUCTOR_COMPILE_THREADS=1
for variant in per-layer whole; do
  flag=$([ $variant = whole ] && echo --whole || true)
  TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-$variant python "$here/step_profile.py" --compile $flag > "$out/profile-$variant.txt" 2>&1
done
grep -rl "mul_silu\|def call(args)" /tmp/inductor-per-layer /tmp/inductor-whole --include=*.py | tar czf "$out/kernels.tgz" -T - 2>/dev/null || true
grep -h "^step\|^##" "$out"/profile-*.txt
