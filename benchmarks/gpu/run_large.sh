#!/usr/bin/env bash
# `stickeval run` end to end on one GPU: a large-size model with random weights (gpu/large_random.py) on the
# StickBench standard suite (2,394 rollouts of 250 frames, then every metric with bootstrap CIs), twice, each
# in a fresh process: "cold" on an empty inductor cache (compilation included), then "warm", the same command
# again. Prints each run's wall seconds (process start to exit), its per-chunk generation rates and its timing.
#   bash benchmarks/gpu/run_large.sh OUT [extra `stickeval run` flags, e.g. --compile]
# Python's bytecode cache is on (PYTHONPYCACHEPREFIX, default /tmp/pyc): a machine that sets
# PYTHONDONTWRITEBYTECODE and ships site-packages without .pyc files would otherwise compile torch's source in
# every process (about 8 s). A TORCHINDUCTOR_CACHE_DIR set by the caller replaces the empty one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?output directory}
python=${PYTHON:-python3}
model=${LARGE_RANDOM:-/tmp/large-random}
export PYTHONPATH="$(cd "$here/../.." && pwd)${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-/tmp/pyc}
unset PYTHONDONTWRITEBYTECODE
export TORCHINDUCTOR_CACHE_DIR=${TORCHINDUCTOR_CACHE_DIR:-$(mktemp -d)}
mkdir -p "$out"
"$python" "$here/large_random.py" "$model"
for pass in cold warm; do
  start=$EPOCHREALTIME
  "$python" -m stickeval run "$model" --suite standard --no-resume "${@:2}" -o "$out/run-$pass" --json > "$out/run-$pass.json"
  end=$EPOCHREALTIME
  echo "$pass: $("$python" -c "print(f'{$end - $start:.1f}')") s end to end (process start to exit)"
  "$python" "$here/chunk_times.py" "$out/run-$pass"
done
