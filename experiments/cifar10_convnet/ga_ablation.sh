#!/usr/bin/env bash
# Ablation of the diagnosis in README.md ("Why FX falls behind here"): the FX run again with every
# activation-gradient format G^(A) of the assigned plan given FINER_BITS more fractional bits and as
# many more bits, so its range stays and only its step shrinks (2^-FINER_BITS times). If the gap to FL
# comes from activation gradients rounded to zero, this run closes most of it.
# Needs runs/cifar10_convnet/ (run.sh). Writes runs/cifar10_convnet/fx_ga_finer/ and its plan.
# Environment: FINER_BITS (default 8), THREADS (default 0 = all hardware threads).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
FINER_BITS=${FINER_BITS:-8}
RUN=runs/cifar10_convnet
OUT=$RUN/fx_ga_finer
PLAN=$RUN/plan_ga_finer.yaml
[[ -f $RUN/fx/plan.yaml ]] || { echo "ga_ablation.sh: $RUN/fx/plan.yaml missing (run experiments/cifar10_convnet/run.sh)" >&2; exit 1; }
# s<B>.<F> -> s<B+k>.<F+k> on the GA lines only (their comments describe the old format: dropped).
python3 -c 'import re, sys
k = int(sys.argv[1])
finer = lambda m: f"{m[1]}{int(m[2]) + k}.{int(m[3]) + k}  # {k} bits finer than the assigned plan"
sys.stdout.write(re.sub(r"^(\s+GA: s)(\d+)\.(\d+).*$", finer, open(sys.argv[2]).read(), flags=re.M))' \
  "$FINER_BITS" "$RUN/fx/plan.yaml" > "$PLAN.tmp"
mv "$PLAN.tmp" "$PLAN"
# The FX run's own config (seed, width, schedule), only the plan differs.
$FXNN train --config "$RUN/fx/config.yaml" --precision "$PLAN" --threads "${THREADS:-0}" --out "$OUT" --quiet --resume
