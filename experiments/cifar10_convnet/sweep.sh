#!/usr/bin/env bash
# Near-minimality of the assigned plan: the FX run again with each tensor class one bit narrower (W, A,
# G^(W), G^(A), acc, one at a time, then all), compared with the FL and FX runs of run.sh at epoch 8.
# Needs runs/cifar10_convnet/ (run.sh). Writes runs/cifar10_convnet/sweep/ (sweep.md).
# Environment: FXNN, THREADS (see reduced.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source experiments/cifar10_convnet/reduced.sh
RUN=runs/cifar10_convnet
[[ -f $RUN/plan.yaml ]] || { echo "sweep.sh: $RUN/plan.yaml missing (run experiments/cifar10_convnet/run.sh)" >&2; exit 1; }
$FXNN sweep --config "$CONFIG" "${REDUCED[@]}" --plan "$RUN/plan.yaml" --minus-one --reference "$RUN" \
  --threads "$THREADS" --out "$RUN/sweep" --quiet
