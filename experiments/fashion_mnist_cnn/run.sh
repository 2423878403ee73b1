#!/usr/bin/env bash
# The method on the Fashion-MNIST CNN (configs/fashion_mnist_cnn.yaml, 15 epochs):
# pipeline (probe, assign, FX, report), minus-one sweep against it, costs. Writes runs/fashion_mnist_cnn/
# and runs/fashion_mnist_cnn_sweep/, then prints what experiments/fashion_mnist_cnn/README.md shows.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
CONFIG=configs/fashion_mnist_cnn.yaml
OUT=runs/fashion_mnist_cnn
$FXNN run --config "$CONFIG" --out "$OUT" --quiet "$@"
# The sweep's runs stop after SWEEP_EPOCHS (default 3: six runs of 15 epochs did not fit the shared
# cores) and are compared with the reference runs at that epoch (identical up to it: same seed and
# schedule). SWEEP_EPOCHS=15 gives the full sweep; a rerun with more epochs extends the runs.
$FXNN sweep --config "$CONFIG" --plan "$OUT/plan.yaml" --minus-one --reference "$OUT" \
  --set "train.epochs=${SWEEP_EPOCHS:-3}" --out runs/fashion_mnist_cnn_sweep --quiet "$@"
$FXNN cost --config "$CONFIG" --plan "$OUT/plan.yaml"
