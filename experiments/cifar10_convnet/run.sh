#!/usr/bin/env bash
# The method on the CIFAR-10 ConvNet (configs/cifar10_convnet.yaml) reduced to fit two shared cores:
# width 0.25 (channels 32-32-64-64-128-128, FC 256-256), 8 epochs instead of 200, learning rate 0.05
# (instead of 0.01) dropped tenfold at epoch 5 (a little after half of training, as in the method).
# About 2 minutes per epoch on 2 quiet cores (FL and FX alike), 5-6 on one shared core.
# Data: ../shared/data/cifar10-jpeg. Writes runs/cifar10_convnet/ (fl/, plan.yaml, fx/, report.md).
# Environment: FXNN (default build/fxnn), THREADS (default 0 = all hardware threads).
set -euo pipefail
cd "$(dirname "$0")/../.."
source experiments/cifar10_convnet/reduced.sh
$FXNN run --config "$CONFIG" "${REDUCED[@]}" --threads "$THREADS" --out runs/cifar10_convnet --quiet "$@"
$FXNN cost --config "$CONFIG" "${REDUCED[@]}" --plan runs/cifar10_convnet/plan.yaml
