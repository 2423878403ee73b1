#!/usr/bin/env bash
# The networks of the paper that do not fit this machine: the wide ResNet-20 on CIFAR-10 and CIFAR-100
# and the ConvNet on SVHN. Each config runs the whole pipeline (probe, assign, FX run, report) end to end
# on a few batches of synthetic data written in the official file formats (CIFAR-10/100 binary, SVHN
# .mat), and `fxnn bench train` measures FL and FX step times of the full network, from which
# estimate.py extrapolates the time of a full run here.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
DATA=runs/paper_networks/data
OUT=runs/paper_networks
mkdir -p "$OUT"
$FXNN make-data --dataset cifar10 --out "$DATA/cifar10" --train 250 --test 100 --seed 1
$FXNN make-data --dataset cifar100 --out "$DATA/cifar100" --train 250 --test 100 --seed 2
$FXNN make-data --dataset svhn --out "$DATA/svhn" --train 250 --test 100 --seed 3
# One batch of 250 per epoch, 2 epochs, J after epoch 1, noise gains over 20 samples.
SMALL=(--set train.epochs=2 --set "optim.lr_milestones=[2]" --set precision.noise_samples=20 --quiet)
# The ResNets end to end at width 0.25 (one step of the full width takes 24 s here, and the noise gains
# need many); the ConvNet at its own width. The step times below are of the full networks.
for config in cifar10_resnet20:cifar10:0.25 cifar100_resnet20:cifar100:0.25 svhn_convnet:svhn:; do
  IFS=: read -r name data width <<< "$config"
  WIDTH=()
  [ -n "$width" ] && WIDTH=(--set "model.width=$width")
  $FXNN run --config "configs/$name.yaml" --set "data.path=$DATA/$data" "${SMALL[@]}" "${WIDTH[@]}" --out "$OUT/$name"
done
for name in cifar10_resnet20 cifar100_resnet20 svhn_convnet cifar10_convnet; do
  data=$(case $name in cifar10_*) echo cifar10;; cifar100_*) echo cifar100;; svhn_*) echo svhn;; esac)
  $FXNN bench train --config "configs/$name.yaml" --set "data.path=$DATA/$data" --batch 250 --steps 1 \
    > "$OUT/$name.bench.json"
done
/usr/bin/python3 experiments/paper_networks/estimate.py "$OUT"
