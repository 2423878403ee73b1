#!/usr/bin/env bash
# Near-minimality of the assigned plan (runs/cifar10_convnet/plan.yaml, from run.sh): the FX run again
# with each tensor class one bit narrower (W, A, G^(W), G^(A), acc, one at a time, then all), on a
# training subset of TRAIN_LIMIT images (default 20,000; the README's run took 5,000) to fit the
# shared cores, with the reduced schedule of run.sh (8 epochs). The FL and FX runs it is compared with are trained on the same subset (the sweep's own fl/
# and fx/), and FX again with seed 2 gives the seed-to-seed spread that the cost of one bit less is
# set against. Writes runs/cifar10_convnet_sweep/ (sweep.md) and runs/cifar10_convnet_sweep_fx_seed2/.
# Environment: FXNN, THREADS (see reduced.sh), PLAN, TRAIN_LIMIT (the subset, default 20000).
set -euo pipefail
cd "$(dirname "$0")/../.."
source experiments/cifar10_convnet/reduced.sh
# PLAN: the plan to sweep (default: the one run.sh assigned; the plan of the 2026-12-02 run is kept in
# experiments/cifar10_convnet/results_2026-12-02/plan.yaml).
PLAN=${PLAN:-runs/cifar10_convnet/plan.yaml}
[[ -f $PLAN ]] || { echo "sweep.sh: $PLAN missing (run experiments/cifar10_convnet/run.sh, or set PLAN)" >&2; exit 1; }
SUBSET=(--set "data.train_limit=${TRAIN_LIMIT:-20000}")
$FXNN sweep --config "$CONFIG" "${REDUCED[@]}" "${SUBSET[@]}" --plan "$PLAN" --minus-one \
  --threads "$THREADS" --out runs/cifar10_convnet_sweep --quiet
$FXNN train --config "$CONFIG" "${REDUCED[@]}" "${SUBSET[@]}" --precision "$PLAN" --seed 2 \
  --threads "$THREADS" --out runs/cifar10_convnet_sweep_fx_seed2 --quiet --resume
