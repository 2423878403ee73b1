#!/usr/bin/env bash
# The method on the wide ResNet-20 of configs/cifar10_resnet20.yaml, reduced to fit about an hour of
# one core for the float probe and the fixed-point run together: width 0.25 (32/64/128 channels
# instead of 128/256/512), a training subset of 10,000 images (the full 10,000 test images), 8 epochs
# instead of 200, learning rate 0.05 (instead of 0.01) dropped tenfold at epoch 6; dropout 0.2 between
# the two convolutions of a block, projection shortcuts, batch 250, as in the config. The injection
# check uses 16 draws (the probe prints it). Data: ../shared/data/cifar10-jpeg. Writes
# runs/cifar10_resnet20/.
# Environment: FXNN (default build/fxnn), THREADS (default 0 = all hardware threads).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
CONFIG=configs/cifar10_resnet20.yaml
REDUCED=(--set model.width=0.25 --set data.train_limit=10000 --set train.epochs=8 --set optim.lr=0.05
         --set "optim.lr_milestones=[6]" --set precision.injection_draws=16)
$FXNN run --config "$CONFIG" "${REDUCED[@]}" --threads "${THREADS:-0}" --out runs/cifar10_resnet20 --quiet
$FXNN cost --config "$CONFIG" "${REDUCED[@]}" --plan runs/cifar10_resnet20/plan.yaml
