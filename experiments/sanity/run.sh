#!/usr/bin/env bash
# Sanity checks of fixed-point training on the Fashion-MNIST CNN, 3 epochs, seed 1:
# float (FL), uniform8 (FX), and two plans that must fail: 2-bit activation gradients and a swamped
# accumulator (with and without batch norm). Writes runs/sanity/<name>/ and prints the table of experiments/sanity/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
CONFIG=configs/fashion_mnist_cnn.yaml
OUT=runs/sanity
COMMON=(--config "$CONFIG" --set train.epochs=3 --seed 1 --resume --quiet)

$FXNN train "${COMMON[@]}" --out "$OUT/fl"
$FXNN train "${COMMON[@]}" --out "$OUT/fx_uniform8" --precision configs/plans/uniform8.yaml
$FXNN train "${COMMON[@]}" --out "$OUT/fx_ga2" --precision experiments/sanity/plans/ga2.yaml
$FXNN train "${COMMON[@]}" --out "$OUT/fx_swamp" --precision experiments/sanity/plans/swamp.yaml
# Batch norm and biases stay in float (as in the method), so they keep learning when every weight is
# swamped. Without batch norm, only the output bias is left to learn:
$FXNN train "${COMMON[@]}" --out "$OUT/fl_nobn" --set model.batch_norm=false
$FXNN train "${COMMON[@]}" --out "$OUT/fx_swamp_nobn" --set model.batch_norm=false --precision experiments/sanity/plans/swamp.yaml

/usr/bin/python3 experiments/sanity/table.py "$OUT"
for run in fx_uniform8 fx_swamp fx_swamp_nobn; do $FXNN inspect --run "$OUT/$run"; echo; done
