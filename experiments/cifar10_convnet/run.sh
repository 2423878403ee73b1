#!/usr/bin/env bash
# The method on the CIFAR-10 ConvNet (configs/cifar10_convnet.yaml) reduced to fit about three hours on
# two shared cores: width 0.25 (channels 32-32-64-64-128-128, FC 256-256), 8 epochs instead of 200,
# learning rate 0.05 (instead of 0.01) dropped tenfold at epoch 5 (a little after half of training, as
# in the method). About 2 minutes per epoch on 2 quiet cores (FL and FX alike), twice that when shared.
# Data: ../shared/data/cifar10-jpeg. Writes runs/cifar10_convnet/.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
CONFIG=configs/cifar10_convnet.yaml
REDUCED=(--set model.width=0.25 --set train.epochs=8 --set optim.lr=0.05 --set "optim.lr_milestones=[5]")
$FXNN run --config "$CONFIG" "${REDUCED[@]}" --out runs/cifar10_convnet --quiet "$@"
$FXNN cost --config "$CONFIG" "${REDUCED[@]}" --plan runs/cifar10_convnet/plan.yaml
