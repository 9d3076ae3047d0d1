#!/usr/bin/env bash
# The generation engine's speed at two versions of the code, in one call on one GPU: `stickeval bench` with the
# published engine figure's settings (a large-size model with random weights, gpu/large_random.py; bf16;
# 1,024 prompts x 250 frames; --compile), alternating baseline and candidate for ROUNDS rounds (default 2),
# each bench in a fresh process with an inductor cache of its own. Prints every sequences/s, the best of each
# version and candidate / baseline.
#   bash benchmarks/gpu/bench_engine_ab.sh BASELINE CANDIDATE [OUT]
# BASELINE and CANDIDATE are each a directory holding a stickeval tree (`.` is the working tree) or a git
# commit, checked out with `git worktree add` (that needs the repository's .git). Where .git is absent (the
# device machine gets the working tree only), export the baseline into an ignored folder first, here:
#   echo /.ab/ >> .git/info/exclude; mkdir -p .ab/base && git archive <commit> | tar -x -C .ab/base
# and pass `.ab/base .` (with `.ab` carried). The bench's original-loop baseline is cut to 1 prompt (it does
# not enter sequences/s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
baseline=${1:?baseline: a directory or a git commit}
candidate=${2:?candidate: a directory or a git commit}
out=${3:-$(mktemp -d)}
rounds=${ROUNDS:-2}
python=${PYTHON:-python3}
model=${LARGE_RANDOM:-/tmp/large-random}
export PYTHONPYCACHEPREFIX=${PYTHONPYCACHEPREFIX:-/tmp/pyc}
unset PYTHONDONTWRITEBYTECODE
mkdir -p "$out"

tree() {  # tree SPEC NAME: the directory of a stickeval tree, checking a commit out when SPEC is not a directory
  if [ -d "$1/stickeval" ]; then
    (cd "$1" && pwd)
  else
    local dir="$out/tree-$2"
    git -C "$repo" worktree add --detach --force "$dir" "$1" >&2
    echo "$dir"
  fi
}
declare -A trees=([baseline]=$(tree "$baseline" baseline) [candidate]=$(tree "$candidate" candidate))

nvidia-smi -L
PYTHONPATH=$repo "$python" "$here/large_random.py" "$model"
for round in $(seq "$rounds"); do
  for name in baseline candidate; do
    dir=${trees[$name]}
    (cd "$dir" && PYTHONPATH=$dir TORCHINDUCTOR_CACHE_DIR="$out/inductor-$name" "$python" -m stickeval bench "$model" \
      --compile --dtype bfloat16 --frames 250 --prompts 1024 --baseline-prompts 1 --json > "$out/$name-$round.json" 2> "$out/$name-$round.log")
    echo "round $round $name ($dir): $("$python" -c "import json; print(f\"{json.load(open('$out/$name-$round.json'))['sequences_per_second']:.2f}\")") seq/s"
  done
done
"$python" - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
best = {}
for name in ("baseline", "candidate"):
    runs = [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
    best[name] = max(r["sequences_per_second"] for r in runs)
    print(f"{name}: best {best[name]:.2f} seq/s of {[round(r['sequences_per_second'], 2) for r in runs]} ({runs[0]['device']}, batch {runs[0]['batch_size']})")
ratio = best["candidate"] / best["baseline"]
print(f"candidate / baseline: {ratio:.3f} ({'within' if ratio >= 0.97 else 'NOT within'} 3% of the baseline)")
PY
