#!/usr/bin/env bash
# Low-bit fine-tuning (docs/lowbit.md section 7) against conversion alone, on the same float run:
# for each network and (mode, bits), `fxnn lowbit` without and with `--finetune EPOCHS`. Results:
# runs/lowbit/finetune/<net>/<tag>.json, copied to experiments/lowbit/results_finetune/, and the section
# "Fine-tuned on the grids" of experiments/lowbit/README.md (make_finetune_table.py replaces it).
#
#   experiments/lowbit/finetune.sh            NETS="mlp cnn convnet" EPOCHS=3 THREADS=1 FXNN=build/fxnn
# LR (default: fxnn's, 0.03) sets --finetune-lr; EXTRA adds options to the fine-tuning runs (e.g.
# EXTRA=--finetune-learn-steps TAG=_learned); TAG (default empty) suffixes the output folders
# (runs/lowbit/finetune$TAG, experiments/lowbit/results_finetune$TAG) of a variant, whose table is
# printed and not put into the README.
# Float runs as in experiments/lowbit/run.sh; a network whose float run is missing is skipped. A JSON
# that exists is not redone; an interrupted fine-tuning resumes (its run directory is kept).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
TAG=${TAG:-}
OUT=runs/lowbit/finetune$TAG
NETS=${NETS:-mlp cnn convnet}
EPOCHS=${EPOCHS:-3}
THREADS=${THREADS:-1}
RESULTS=experiments/lowbit/results_finetune$TAG
LR_OPTION=()
[[ -n ${LR:-} ]] && LR_OPTION=(--finetune-lr "$LR")
read -r -a EXTRA_OPTIONS <<< "${EXTRA:-}"
declare -A RUNS=([mlp]=runs/lowbit/fl_mlp [cnn]=runs/fashion_mnist_cnn/fl [convnet]=runs/cifar10_convnet/fl)
mkdir -p "$RESULTS"

lowbit() { # net run tag [options...]
  local net=$1 run=$2 tag=$3
  shift 3
  local json=$OUT/$net/$tag.json
  mkdir -p "$OUT/$net"
  if [[ ! -f $json ]]; then
    local cmd=("$FXNN" lowbit --checkpoint "$run/checkpoint.pt" --config "$run/config.yaml" "$@"
               --out "$OUT/$net/$tag" --json "$json" --threads "$THREADS" --quiet --force)
    echo "${cmd[*]}" > "$OUT/$net/$tag.cmd"
    echo "[$(date +%H:%M:%S)] $net $tag" >&2
    "${cmd[@]}" > "$OUT/$net/$tag.txt"
  fi
  cp "$json" "$RESULTS/${net}_$tag.json"
  cp "$OUT/$net/$tag.cmd" "$RESULTS/${net}_$tag.cmd"
}

for net in $NETS; do
  run=${RUNS[$net]}
  if [[ ! -f $run/checkpoint.pt ]]; then
    echo "finetune.sh: $net: no float run at $run (skipped)" >&2
    continue
  fi
  for spec in "shift-clip 3" "float-scale 2"; do
    read -r mode bits <<< "$spec"
    tag=${mode}_b$bits
    lowbit "$net" "$run" "$tag" --mode "$mode" --bits "$bits"
    lowbit "$net" "$run" "${tag}_ft$EPOCHS" --mode "$mode" --bits "$bits" --finetune "$EPOCHS" "${LR_OPTION[@]}" "${EXTRA_OPTIONS[@]}" \
      --finetune-run "$OUT/$net/${tag}_ft$EPOCHS.run" --resume
  done
done
if [[ -z $TAG ]]; then
  /usr/bin/python3 experiments/lowbit/make_finetune_table.py "$RESULTS" experiments/lowbit/README.md
else
  /usr/bin/python3 experiments/lowbit/make_finetune_table.py "$RESULTS"
fi
