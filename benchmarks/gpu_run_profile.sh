#!/usr/bin/env bash
# Where the end-to-end time of `stickeval run` (large, random weights, standard suite, --compile) goes on
# one GPU, and what one compiled step runs there:
#   1. a cold run (it warms inductor's and the classifier's caches, and Python's bytecode cache),
#   2. warm runs under benchmarks/run_timeline.py: as shipped, then with inductor's compile workers off,
#   3. one step's GPU profile, compiled per layer (shipped) and whole, with the generated kernels kept.
# This machine sets PYTHONDONTWRITEBYTECODE and its site-packages hold no .pyc files, so each process
# would compile torch from source (about 8 s; a normal install ships bytecode): the runs here turn
# Python's bytecode cache on, in /tmp/pyc.
#   bash benchmarks/gpu_run_profile.sh OUT
set -euo pipefail
out=${1:?output directory}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONPYCACHEPREFIX=/tmp/pyc
unset PYTHONDONTWRITEBYTECODE
bash benchmarks/gpu_run_large.sh /tmp/cold --compile > "$out/cold.txt" 2>&1
timeline() {  # name, then env assignments
  local name=$1; shift
  local s; s=$(date +%s.%N)
  env "$@" START="$s" python benchmarks/run_timeline.py "$out/$name.timeline.json" run /tmp/large-random --suite standard \
    --compile --json -o "/tmp/$name" > "/tmp/$name.json" 2>/dev/null
  echo "$name: $(python -c "print(f'{$(date +%s.%N) - $s:.2f}')") s end to end; $(python -c "import json; print(json.load(open('/tmp/$name.json'))['timing'])")" | tee -a "$out/end_to_end.txt"
}
timeline warm
timeline warm-compile-threads-1 TORCHINDUCTOR_COMPILE_THREADS=1
for variant in per-layer whole; do
  flag=$([ $variant = whole ] && echo --whole || true)
  TORCHINDUCTOR_CACHE_DIR=/tmp/inductor-$variant python benchmarks/gpu_profile.py --compile $flag > "$out/profile-$variant.txt" 2>&1
done
grep -rl "mul_silu\|def call(args)" /tmp/inductor-per-layer /tmp/inductor-whole --include=*.py | tar czf "$out/kernels.tgz" -T - 2>/dev/null || true
grep -h "^step\|^##" "$out"/profile-*.txt
