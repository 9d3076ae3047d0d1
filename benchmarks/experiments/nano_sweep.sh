#!/usr/bin/env bash
# Candidate nano recipes, trained side by side on one GPU and scored on the StickBench standard suite
# (the bar: nano's action accuracy must beat the first frame held still, 0.289 [0.263, 0.316]).
# Each candidate is pretrain-nano with the overrides on its line; fp32, so that the ranking carries
# over to the CPU build of `make nano`. Prints one Markdown row per candidate.
#   [KEEP=models.tar] bash benchmarks/experiments/nano_sweep.sh [out_dir]   (KEEP: the trained models, before scoring)
set -uo pipefail
OUT=${1:-runs/nano-sweep}
PY=${PYTHON:-python}
mkdir -p "$OUT"
declare -A SETS=(
  [base160]="schedule.epochs=160"
  [ss50e80]="objective.scheduled_sampling=0.5"
  [ss50e160]="objective.scheduled_sampling=0.5 schedule.epochs=160"
  [ss25e160]="objective.scheduled_sampling=0.25 schedule.epochs=160"
  [ss75e160]="objective.scheduled_sampling=0.75 schedule.epochs=160"
  [ss50w96]="objective.scheduled_sampling=0.5 schedule.epochs=160 model.d_model=96 model.nhead=3"
  [ss50t1]="objective.scheduled_sampling=0.5 schedule.epochs=160 objective.temporal=1.0"
  [ss50d0]="objective.scheduled_sampling=0.5 schedule.epochs=160 model.dropout=0.0"
)
started=$(date +%s)
for name in "${!SETS[@]}"; do
  args=(); for s in ${SETS[$name]}; do args+=(--set "$s"); done
  OMP_NUM_THREADS=1 timeout "${TRAIN_TIMEOUT:-420}" $PY -m stickeval train --recipe pretrain-nano "${args[@]}" \
    --device cuda --dtype float32 -o "$OUT/$name" --json > "$OUT/$name.train.json" 2> "$OUT/$name.train.err" &
done
wait
echo "training: $(( $(date +%s) - started )) s"
for name in "${!SETS[@]}"; do
  steps=$(tail -n 3 "$OUT/$name/train_log.jsonl" 2>/dev/null | grep -o '"step": [0-9]*' | tail -1)
  echo "$name: ${SETS[$name]} -> ${steps:-no log}; model: $([ -f "$OUT/$name/model.safetensors" ] && echo yes || echo NO)"
done
[ -n "${KEEP:-}" ] && tar -cf "$KEEP" -C "$OUT" $(cd "$OUT" && ls -d */config.json */model.safetensors */train_log.jsonl */recipe.toml 2>/dev/null)
for name in "${!SETS[@]}"; do
  [ -f "$OUT/$name/model.safetensors" ] || continue
  OMP_NUM_THREADS=2 PYTHONPATH=. timeout "${EVAL_TIMEOUT:-300}" $PY benchmarks/cpu/nano_quality.py --suite standard --no-baselines --models "$OUT/$name" \
    --out "$OUT/eval" > "$OUT/$name.eval.txt" 2>&1 &
done
wait
for name in "${!SETS[@]}"; do echo "== $name (${SETS[$name]})"; grep -E "^\| $OUT|sequences/s|Error|error" "$OUT/$name.eval.txt"; done
echo "total: $(( $(date +%s) - started )) s"
