#!/usr/bin/env bash
# A fixed-point network folder exported as qdq ONNX and run in ONNX Runtime on the whole test set of a
# config, against the integer runtime's output codes (docs/onnx.md). Needs onnxruntime-node in
# build/ort (scripts/setup.sh installs it where npm is available) and python3-onnx.
# Usage: experiments/onnx/check.sh MODEL_DIR CONFIG [NAME]   -> runs/onnx/NAME/ and one result line
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
model=$1 config=$2 name=${3:-$(basename "$1")}
out=runs/onnx/$name
rm -rf "$out" && mkdir -p "$out"
$FXNN infer --model "$model" --config "$config" --quiet --threads 1 --save-inputs "$out/input.npy" \
  --save-output "$out/codes.npy"
$FXNN export-onnx --model "$model" --out "$out/qdq.onnx" --flavor qdq
# The graph input's element type (float32, or double for inputs whose codes exceed 2^24).
/usr/bin/python3 -c "import onnx, sys; t = onnx.load(sys.argv[1]).graph.input[0].type.tensor_type.elem_type; \
print('float32' if t == onnx.TensorProto.FLOAT else 'float64')" "$out/qdq.onnx" > "$out/input_type.txt"
node tests/onnx/check_qdq_with_onnxruntime.js runs/onnx build/ort/node_modules
