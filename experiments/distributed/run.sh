#!/usr/bin/env bash
# Data-parallel training on this machine (2 cores): the Fashion-MNIST CNN for one epoch of 12,800 images
# (100 steps of 128, K = 2 micro-batches), in fixed point (uniform8) and in float, on 1 process x 2
# threads, 1 process x 1 thread and 2 processes x 1 thread; then 4 processes x 1 thread (FX only, for
# bitwise reproducibility). Prints steps per second, gradient bytes per step and the weight comparisons.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
OUT=runs/distributed
rm -rf "$OUT"
COMMON=(--config configs/fashion_mnist_cnn.yaml --set data.train_limit=12800 --set data.test_limit=1000
        --set train.epochs=1 --set train.micro_batches=4 --quiet)
FX=(--precision configs/plans/uniform8.yaml)
for mode in fx fl; do
  extra=(); [ "$mode" = fx ] && extra=("${FX[@]}")
  $FXNN train "${COMMON[@]}" "${extra[@]}" --threads 2 --out "$OUT/${mode}_1x2"
  $FXNN train "${COMMON[@]}" "${extra[@]}" --threads 1 --out "$OUT/${mode}_1x1"
  $FXNN launch --nproc 2 -- fxnn train "${COMMON[@]}" "${extra[@]}" --threads 1 --out "$OUT/${mode}_2x1"
done
$FXNN launch --nproc 4 -- fxnn train "${COMMON[@]}" "${FX[@]}" --threads 1 --out "$OUT/fx_4x1"
# 6-bit weight gradients: the codes travel as int8.
GW6=(--precision experiments/distributed/plans/gw6.yaml)
$FXNN train "${COMMON[@]}" "${GW6[@]}" --threads 1 --out "$OUT/fxgw6_1x1"
$FXNN launch --nproc 2 -- fxnn train "${COMMON[@]}" "${GW6[@]}" --threads 1 --out "$OUT/fxgw6_2x1"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
root = sys.argv[1]
print("| run | processes x threads | seconds (epoch incl. evaluation) | steps per second | gradient bytes per step per process | test accuracy |")
print("|---|---|---|---|---|---|")
for run in ["fx_1x2", "fx_1x1", "fx_2x1", "fx_4x1", "fxgw6_1x1", "fxgw6_2x1", "fl_1x2", "fl_1x1", "fl_2x1"]:
    m = json.loads(open(f"{root}/{run}/metrics.jsonl").read().splitlines()[-1])
    shape = run.split("_")[-1]
    print(f"| {run} | {shape.replace('x', ' x ')} | {m['seconds']:.1f} | {100 / m['seconds']:.2f} | {m['gradient_bytes_per_step']} | {100 * m['test_acc']:.2f}% |")
PY
for pair in "fx_1x1 fx_2x1" "fx_1x1 fx_4x1" "fxgw6_1x1 fxgw6_2x1" "fl_1x1 fl_2x1"; do
  set -- $pair
  echo "$1 against $2: $($FXNN inspect --run "$OUT/$1" --against "$OUT/$2" | tail -1)"
done
