#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job: the Fashion-MNIST CNN trained in fixed point
# with the uniform 8-bit plan, into runs/fashion_mnist_cnn_uniform8/. A second run resumes from the
# last checkpoint (and does nothing when the run is complete).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/fxnn train --config configs/fashion_mnist_cnn.yaml --precision configs/plans/uniform8.yaml \
  --out runs/fashion_mnist_cnn_uniform8 --resume "$@"
