#!/usr/bin/env bash
# A CNN trained with PyTorch alone, saved as ONNX, converted by `fxnn lowbit --onnx` (README.md).
#   experiments/onnx_lowbit/run.sh [RUNS_DIR]     (default runs/onnx_lowbit; FXNN=path/to/fxnn)
# The ONNX file is kept in RUNS_DIR (a rerun skips the training); the results JSON go to results/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RUNS=${1:-$ROOT/runs/onnx_lowbit}
FXNN=${FXNN:-$ROOT/build/fxnn}
CONFIG=$ROOT/configs/fashion_mnist_cnn.yaml # the data set and its normalization (the model section is not read)
mkdir -p "$RUNS" "$HERE/results"
if [ ! -f "$RUNS/torch_cnn.onnx" ]; then
  /usr/bin/python3 "$HERE/train_torch_cnn.py" --out "$RUNS/torch_cnn.onnx" --epochs 3 --threads 1 | tee "$RUNS/train.log"
fi
cp "$RUNS/torch_cnn.torch.json" "$HERE/results/torch_cnn.torch.json"
convert() { # NAME ARGS...
  local name=$1
  shift
  "$FXNN" lowbit --onnx "$RUNS/torch_cnn.onnx" --config "$CONFIG" --out "$RUNS/$name" --force --quiet --threads 1 \
    --json "$HERE/results/$name.json" "$@" | tee "$RUNS/$name.log"
}
convert shift_clip3 --mode shift-clip --bits 3
convert shift_clip3_channel --mode shift-clip --bits 3 --granularity channel
convert shift_clip4 --mode shift-clip --bits 4
convert float_scale2 --mode float-scale --bits 2 --correction affine
