#!/usr/bin/env bash
# Candidate nano recipes, trained side by side on one GPU and scored on the StickBench standard suite,
# beside the shipped nano scored by the same code. Each candidate is pretrain-nano with the overrides
# on its line; fp32, so that the ranking carries over to the CPU build of `make nano`. Two sweeps:
#   recipe  the objective (the bar then: action accuracy above the first frame held still, 0.289 [0.263, 0.316]);
#           run on the recipe before scheduled sampling and dropout 0.0 were its defaults
#   size    wider or deeper models of today's recipe (the bar: the shipped nano)
#   [KEEP=models.tar] [SCORE=0] bash benchmarks/experiments/nano_sweep.sh [out_dir] [recipe|size]
# KEEP: a tar of the trained models; SCORE=0 stops there (score them elsewhere with nano_quality.py).
set -uo pipefail
OUT=${1:-runs/nano-sweep}
SWEEP=${2:-size}
PY=${PYTHON:-python}
mkdir -p "$OUT"
declare -A SETS
if [ "$SWEEP" = size ]; then SETS=(
  [recipe]=""
  [w96]="model.d_model=96 model.nhead=3"
  [w128]="model.d_model=128 model.nhead=4"
  [l3]="model.num_layers=3"
  [w96l3]="model.d_model=96 model.nhead=3 model.num_layers=3"
); else SETS=(
  [base160]="schedule.epochs=160"
  [ss50e80]="objective.scheduled_sampling=0.5"
  [ss50e160]="objective.scheduled_sampling=0.5 schedule.epochs=160"
  [ss25e160]="objective.scheduled_sampling=0.25 schedule.epochs=160"
  [ss75e160]="objective.scheduled_sampling=0.75 schedule.epochs=160"
  [ss50w96]="objective.scheduled_sampling=0.5 schedule.epochs=160 model.d_model=96 model.nhead=3"
  [ss50t1]="objective.scheduled_sampling=0.5 schedule.epochs=160 objective.temporal=1.0"
  [ss50d0]="objective.scheduled_sampling=0.5 schedule.epochs=160 model.dropout=0.0"
); fi
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
[ -n "${KEEP:-}" ] && tar -cf "$KEEP" -C "$OUT" $(cd "$OUT" && ls -d */config.json */model.safetensors */train_log.jsonl */recipe.toml */training.json 2>/dev/null)
[ "${SCORE:-1}" = 0 ] && exit 0
OMP_NUM_THREADS=2 PYTHONPATH=. HF_HUB_OFFLINE=1 timeout "${EVAL_TIMEOUT:-300}" $PY benchmarks/cpu/nano_quality.py --suite standard --no-baselines \
  --models nano --out "$OUT/eval" > "$OUT/zoo-nano.eval.txt" 2>&1 &
for name in "${!SETS[@]}"; do
  [ -f "$OUT/$name/model.safetensors" ] || continue
  OMP_NUM_THREADS=2 PYTHONPATH=. timeout "${EVAL_TIMEOUT:-300}" $PY benchmarks/cpu/nano_quality.py --suite standard --no-baselines --models "$OUT/$name" \
    --out "$OUT/eval" > "$OUT/$name.eval.txt" 2>&1 &
done
wait
for name in zoo-nano "${!SETS[@]}"; do if [ $name = zoo-nano ]; then echo "== zoo-nano (the shipped weights)"; else echo "== $name (${SETS[$name]:-pretrain-nano as it is})"; fi; grep -E "^\| ($OUT|nano)|sequences/s|Error|error" "$OUT/$name.eval.txt"; done
echo "total: $(( $(date +%s) - started )) s"
