#!/usr/bin/env bash
# Deployment of the trained fixed-point networks: export, full-test-set check of the integer runtime
# against the LibTorch simulation and the trained model, the numpy program, and the inference benchmark.
# Needs the runs of scripts/run.sh (runs/fashion_mnist_cnn/{fx,fx_uniform8}) and of
# experiments/cifar10_convnet/run.sh (runs/cifar10_convnet/fx). Writes runs/deployment/.
# Usage: experiments/deployment/run.sh [NAME...]   (default: every network of the list below)
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=build/fxnn
OUT=runs/deployment
mkdir -p "$OUT"
while read -r name run config; do
  [ $# -eq 0 ] || [[ " $* " == *" $name "* ]] || continue
  [ -f "$run/checkpoint.pt" ] || { echo "skipping $name: no $run/checkpoint.pt"; continue; }
  $FXNN export --run "$run" --out "$OUT/$name" | tee "$OUT/$name.export.txt"
  $FXNN infer --model "$OUT/$name" --config "$config" --check --run "$run" --quiet --json "$OUT/$name.infer.json" \
    --save-inputs "$OUT/$name.x.npy" --save-labels "$OUT/$name.y.npy" --save-output "$OUT/$name.codes.npy"
  /usr/bin/python3 scripts/fxnn_infer.py --model "$OUT/$name" --input "$OUT/$name.x.npy" --labels "$OUT/$name.y.npy" \
    --output "$OUT/$name.numpy_codes.npy"
  /usr/bin/python3 -c "import numpy as np, sys; a = np.load(sys.argv[1]); b = np.load(sys.argv[2]); \
print(f'numpy program vs runtime: {(a != b).sum()} of {a.size} output codes differ, \
{(a.argmax(1) != b.argmax(1)).sum()} predictions differ')" "$OUT/$name.codes.npy" "$OUT/$name.numpy_codes.npy"
  $FXNN bench infer --model "$OUT/$name" --batch 256 --config "$config" > "$OUT/$name.bench.json"
  $FXNN bench infer --model "$OUT/$name" --batch 256 --config "$config" --threads 1 > "$OUT/$name.bench1.json"
done <<LIST
fashion_mnist_cnn_assigned runs/fashion_mnist_cnn/fx configs/fashion_mnist_cnn.yaml
fashion_mnist_cnn_uniform8 runs/fashion_mnist_cnn/fx_uniform8 configs/fashion_mnist_cnn.yaml
cifar10_convnet runs/cifar10_convnet/fx configs/cifar10_convnet.yaml
LIST
/usr/bin/python3 experiments/deployment/table.py "$OUT"
