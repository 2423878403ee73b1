#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the Fashion-MNIST CNN (the embedded default
# data set):
#   1. `fxnn run`: float probe run, analytic per-tensor precisions, fixed-point run from scratch with
#      the same seed and schedule, report (runs/fashion_mnist_cnn/report.md);
#   2. the same network in fixed point with the hand-written plan configs/plans/uniform8.yaml
#      (runs/fashion_mnist_cnn/fx_uniform8).
# About 40 minutes on 2 cores. Every stage resumes from its last checkpoint, so a second run is quick.
# Extra arguments go to both commands (for example --threads 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
OUT=runs/fashion_mnist_cnn
build/fxnn run --config configs/fashion_mnist_cnn.yaml --out "$OUT" "$@"
build/fxnn train --config configs/fashion_mnist_cnn.yaml --precision configs/plans/uniform8.yaml \
  --out "$OUT/fx_uniform8" --resume "$@"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
root = sys.argv[1]
def final(run):
    lines = [json.loads(l) for l in open(f"{root}/{run}/metrics.jsonl") if l.strip()]
    return lines[-1]["test_acc"] * 100
fl, fx, u8 = final("fl"), final("fx"), final("fx_uniform8")
print(f"test accuracy: float {fl:.2f}%, fixed point (assigned plan) {fx:.2f}%, fixed point (uniform8) {u8:.2f}%")
print(f"report: {root}/report.md")
PY
