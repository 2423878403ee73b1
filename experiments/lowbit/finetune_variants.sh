#!/usr/bin/env bash
# Variants of the CIFAR-10 ConvNet's 2-bit float-scale fine-tuning (docs/lowbit.md section 7), beside
# the default of experiments/lowbit/finetune.sh: each is one `fxnn lowbit --finetune` run into
# runs/lowbit/finetune_<variant>/convnet/, its JSON and command copied to
# experiments/lowbit/results_finetune_<variant>/ (make_finetune_table.py lists them in the README).
#
#   experiments/lowbit/finetune_variants.sh [VARIANT...]      THREADS=1 FXNN=build/fxnn
# Variants: edge8 (the first and the last layer's weights at 8 bits), lr001 (--finetune-lr 0.01),
# epochs6 (6 epochs instead of 3: what more epochs would bring), momentum (SGD momentum 0.9 at lr 0.003,
# the same effective rate as plain SGD at 0.03), momentum_learned (the same with learned steps),
# momentum_learned_lr001 and momentum_learned_lr0006 (learned steps, momentum 0.9 at lr 0.01 and 0.006),
# momentum_learned_lr001_seed2 (the first of those with --seed 2: how much the seed moves it),
# momentum_learned_lr002 and momentum_learned_lr002_seed2 (lr 0.02, seeds 1 and 2).
# Default: all. A JSON that exists is
# not redone; an interrupted fine-tuning resumes.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
THREADS=${THREADS:-1}
RUN=runs/cifar10_convnet/fl
VARIANTS=("$@")
[[ ${#VARIANTS[@]} -eq 0 ]] && VARIANTS=(edge8 lr001 epochs6 momentum momentum_learned momentum_learned_lr001 momentum_learned_lr0006
  momentum_learned_lr001_seed2 momentum_learned_lr002 momentum_learned_lr002_seed2)
if [[ ! -f $RUN/checkpoint.pt ]]; then
  echo "finetune_variants.sh: no float run at $RUN (experiments/cifar10_convnet/reduced.sh trains it)" >&2
  exit 1
fi

for variant in "${VARIANTS[@]}"; do
  epochs=3
  options=()
  case $variant in
    edge8) options=(--edge-bits 8) ;;
    lr001) options=(--finetune-lr 0.01) ;;
    epochs6) epochs=6 ;;
    momentum) options=(--finetune-lr 0.003 --finetune-momentum 0.9) ;;
    momentum_learned) options=(--finetune-lr 0.003 --finetune-momentum 0.9 --finetune-learn-steps) ;;
    momentum_learned_lr001) options=(--finetune-lr 0.01 --finetune-momentum 0.9 --finetune-learn-steps) ;;
    momentum_learned_lr0006) options=(--finetune-lr 0.006 --finetune-momentum 0.9 --finetune-learn-steps) ;;
    momentum_learned_lr001_seed2)
      options=(--finetune-lr 0.01 --finetune-momentum 0.9 --finetune-learn-steps --seed 2) ;;
    momentum_learned_lr002) options=(--finetune-lr 0.02 --finetune-momentum 0.9 --finetune-learn-steps) ;;
    momentum_learned_lr002_seed2)
      options=(--finetune-lr 0.02 --finetune-momentum 0.9 --finetune-learn-steps --seed 2) ;;
    *) echo "finetune_variants.sh: unknown variant $variant" >&2; exit 1 ;;
  esac
  out=runs/lowbit/finetune_$variant/convnet
  results=experiments/lowbit/results_finetune_$variant
  tag=float-scale_b2_ft$epochs
  mkdir -p "$out" "$results"
  if [[ ! -f $out/$tag.json ]]; then
    cmd=("$FXNN" lowbit --checkpoint "$RUN/checkpoint.pt" --config "$RUN/config.yaml" --mode float-scale --bits 2
         "${options[@]}" --finetune "$epochs" --finetune-run "$out/$tag.run" --resume
         --out "$out/$tag" --json "$out/$tag.json" --threads "$THREADS" --quiet --force)
    echo "${cmd[*]}" > "$out/$tag.cmd"
    echo "[$(date +%H:%M:%S)] convnet $variant" >&2
    "${cmd[@]}" > "$out/$tag.txt"
  fi
  cp "$out/$tag.json" "$results/convnet_$tag.json"
  cp "$out/$tag.cmd" "$results/convnet_$tag.cmd"
done
