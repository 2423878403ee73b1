#!/usr/bin/env bash
# The same MLP trained in fixed point by `fxnn train` and by PyTorch through the Python package, with
# one plan from `fxnn assign`, over three seeds each (docs/python.md). Results in runs/python_parity/,
# the table in experiments/python_parity/README.md (make_table.py).
#
#   experiments/python_parity/run.sh        FXNN=build/fxnn EPOCHS=3 SEEDS="1 2 3"
# Every step that has its result is not redone; the runs resume.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
EPOCHS=${EPOCHS:-3}
SEEDS=${SEEDS:-1 2 3}
OUT=runs/python_parity
CONFIG=configs/fashion_mnist_mlp.yaml
SCHEDULE=(--set "train.epochs=$EPOCHS" --set "optim.lr_milestones=[$((EPOCHS - 1))]")
mkdir -p "$OUT"

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
if [[ ! -f $OUT/probe/stats.json ]]; then
  log "probe"
  "$FXNN" probe --config "$CONFIG" "${SCHEDULE[@]}" --out "$OUT/probe" --resume --threads 1 > "$OUT/probe.log" 2>&1
fi
[[ -f $OUT/plan.yaml ]] || "$FXNN" assign --stats "$OUT/probe/stats.json" --out "$OUT/plan.yaml" > "$OUT/assign.log"
for seed in $SEEDS; do
  if [[ ! -f $OUT/fxnn_s$seed/done ]]; then
    log "fxnn train seed $seed"
    "$FXNN" train --config "$CONFIG" --precision "$OUT/plan.yaml" "${SCHEDULE[@]}" --set "seed=$seed" \
      --out "$OUT/fxnn_s$seed" --resume --threads 1 --quiet > "$OUT/fxnn_s$seed.log" 2>&1
    touch "$OUT/fxnn_s$seed/done"
  fi
  if [[ ! -f $OUT/python_s$seed/metrics.json ]]; then
    log "python seed $seed"
    rm -rf "$OUT/python_s$seed"
    /usr/bin/python3 experiments/python_parity/train_mlp.py --plan "$OUT/plan.yaml" --out "$OUT/python_s$seed" \
      --epochs "$EPOCHS" --milestones $((EPOCHS - 1)) --lr 0.1 --seed "$seed" --threads 1 > "$OUT/python_s$seed.log"
    "$FXNN" infer --model "$OUT/python_s$seed/network" --config "$CONFIG" --quiet --threads 1 \
      --json "$OUT/python_s$seed/infer.json" > "$OUT/python_s$seed/infer.txt"
  fi
done
/usr/bin/python3 experiments/python_parity/make_table.py "$OUT" experiments/python_parity/README.md
