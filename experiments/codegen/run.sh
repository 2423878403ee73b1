#!/usr/bin/env bash
# `fxnn codegen` on real networks: each exported or converted network as integer-only C99, compiled
# with -std=c99 -Wall -Werror -fsanitize=undefined and run on the whole test set; its output codes must
# equal the integer runtime's (fxnn infer --save-output), and its assembly (-O2) must hold no
# floating-point instruction (float_free.py). Writes runs/codegen/.
# Needs the Fashion-MNIST CNN pipeline of experiments/fashion_mnist_cnn/run.sh; the CIFAR-10 ConvNet
# is the one of experiments/cifar10_convnet/run.sh where that run exists, else a short pipeline made
# here (width 0.25, one epoch on 5,000 images: the generated code must equal the runtime whatever the
# weights, so training it longer would test nothing more).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
OUT=runs/codegen
mkdir -p "$OUT"
CONVNET=runs/cifar10_convnet
if [ ! -f "$CONVNET/fx/checkpoint.pt" ]; then
  CONVNET=$OUT/convnet_short
  $FXNN run --config configs/cifar10_convnet.yaml --set model.width=0.25 --set train.epochs=1 \
    --set data.train_limit=5000 --set precision.injection_draws=0 --out "$CONVNET" --quiet
fi
while read -r name kind run config; do
  [ -f "$run/checkpoint.pt" ] || { echo "skipping $name: no $run/checkpoint.pt"; continue; }
  net="$OUT/$name.net"
  if [ "$kind" = export ]; then
    $FXNN export --run "$run" --out "$net" --force > /dev/null
  else
    $FXNN lowbit --checkpoint "$run/checkpoint.pt" --config "$run/config.yaml" --mode shift-clip --bits 3 \
      --out "$net" --force --quiet > /dev/null
  fi
  $FXNN infer --model "$net" --config "$config" --quiet --save-inputs "$OUT/$name.x.npy" \
    --save-output "$OUT/$name.codes.npy" > /dev/null
  $FXNN codegen --model "$net" --emit-c "$OUT/$name.c" --name "$name" --force > /dev/null
  /usr/bin/python3 experiments/codegen/check.py --code "$OUT/$name.c" --name "$name" \
    --inputs "$OUT/$name.x.npy" --codes "$OUT/$name.codes.npy"
  /usr/bin/python3 experiments/codegen/float_free.py "$OUT/$name.c" "$name"
done <<LIST
cifar10_convnet export $CONVNET/fx configs/cifar10_convnet.yaml
fmnist_cnn export runs/fashion_mnist_cnn/fx configs/fashion_mnist_cnn.yaml
fmnist_cnn_sc3 lowbit runs/fashion_mnist_cnn/fl configs/fashion_mnist_cnn.yaml
LIST
