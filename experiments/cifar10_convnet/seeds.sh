#!/usr/bin/env bash
# The float run of run.sh again with other seeds, for the seed-to-seed spread of FL (seed 1 is the
# probe, runs/cifar10_convnet/fl). Writes runs/cifar10_convnet/fl_seed<S>/ for S in SEEDS (default "2 3").
# Environment: FXNN, THREADS (see reduced.sh), SEEDS.
set -euo pipefail
cd "$(dirname "$0")/../.."
source experiments/cifar10_convnet/reduced.sh
for seed in ${SEEDS:-2 3}; do
  $FXNN train --config "$CONFIG" "${REDUCED[@]}" --seed "$seed" --threads "$THREADS" \
    --out "runs/cifar10_convnet/fl_seed$seed" --quiet --resume
done
