#!/bin/sh
# A network trained in PyTorch with the Python package, exported by fxnn.export_folder, runs in fxnn's
# integer runtime (`fxnn infer`) and in the numpy reader (scripts/fxnn_infer.py), both as strict as
# fxnn's own folders are read: the runtime's accuracy is the PyTorch model's within 1 point (batch
# norm folded into 16-bit multipliers moves a prediction here and there), and the two readers agree.
#   check_export_runs_in_runtime.sh FXNN_BINARY SOURCE_DIR
# Exit 77 (skipped) without Fashion-MNIST or python3-torch.
set -eu
fxnn=$1 src=$2
[ -d /usr/share/datasets/fashion-mnist ] || { echo "dataset-fashion-mnist is not installed"; exit 77; }
/usr/bin/python3 -c "import torch, yaml" 2> /dev/null || { echo "python3-torch or python3-yaml missing"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/experiments/python_parity/train_mlp.py" --plan "$src/configs/plans/uniform8.yaml" \
  --out "$tmp/run" --epochs 1 --hidden 64 64 --train-limit 5000 --test-limit 2000 | tee "$tmp/train.log"
"$fxnn" infer --model "$tmp/run/network" --config "$src/configs/fashion_mnist_mlp.yaml" --limit 2000 --quiet \
  --json "$tmp/infer.json" --save-inputs "$tmp/x.npy" --save-labels "$tmp/y.npy" --save-output "$tmp/codes.npy"
/usr/bin/python3 "$src/scripts/fxnn_infer.py" --model "$tmp/run/network" --input "$tmp/x.npy" --labels "$tmp/y.npy" \
  --output "$tmp/numpy_codes.npy" > /dev/null
/usr/bin/python3 - "$tmp" <<'PY'
import json, sys
import numpy as np
tmp = sys.argv[1]
torch_acc = json.load(open(f"{tmp}/run/metrics.json"))["epochs"][-1]["test_acc"]
runtime_acc = json.load(open(f"{tmp}/infer.json"))["accuracy"]
print(f"PyTorch {100 * torch_acc:.2f}%, integer runtime {100 * runtime_acc:.2f}%")
assert abs(torch_acc - runtime_acc) <= 0.01, "the runtime's accuracy is not the PyTorch model's"
assert np.array_equal(np.load(f"{tmp}/codes.npy"), np.load(f"{tmp}/numpy_codes.npy")), "the two readers differ"
PY
echo "exported folder: OK"
