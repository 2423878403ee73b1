#!/usr/bin/env bash
# Low-bit integer inference of float-trained networks (docs/lowbit.md): `fxnn bench narrow` (the
# narrow-accumulator kernels), `fxnn lowbit` at B in {2, 3, 4, 5, 6, 8} in both modes on every float
# run that exists, `fxnn bench infer` of the float-scale 2-bit and shift-clip 3-bit networks, the ablations;
# then writes experiments/lowbit/README.md (experiments/lowbit/make_readme.py).
#
# Float runs (the MLP's is trained here when missing; another that is missing or still training is
# skipped, with a message):
#   mlp      runs/lowbit/fl_mlp         build/fxnn train --config configs/fashion_mnist_mlp.yaml --out runs/lowbit/fl_mlp --quiet
#   cnn      runs/fashion_mnist_cnn/fl  the float run of experiments/fashion_mnist_cnn/run.sh
#   convnet  runs/cifar10_convnet/fl    the float run of experiments/cifar10_convnet/run.sh
# A conversion whose JSON exists is not redone (delete runs/lowbit/<net>/ to redo a network).
# FXNN (default build/fxnn) names the binary; NETS (default "mlp cnn convnet") the networks.
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
OUT=runs/lowbit
NETS=${NETS:-mlp cnn convnet}
declare -A RUNS=([mlp]=runs/lowbit/fl_mlp [cnn]=runs/fashion_mnist_cnn/fl [convnet]=runs/cifar10_convnet/fl)

# The number of epochs a run's config asks for, and how many it has finished.
epochs_wanted() { awk '/^train:/{t=1; next} /^[^ ]/{t=0} t && $1=="epochs:"{print $2}' "$1/config.yaml"; }
epochs_done() { grep -c . "$1/metrics.jsonl" 2>/dev/null || echo 0; }

convert() { # net run tag [fxnn lowbit options...]
  local net=$1 run=$2 tag=$3
  shift 3
  local json=$OUT/$net/$tag.json
  [[ -f $json ]] && return 0
  local cmd=("$FXNN" lowbit --checkpoint "$run/checkpoint.pt" --config "$run/config.yaml" "$@"
             --out "$OUT/$net/$tag" --json "$json" --quiet)
  echo "${cmd[*]}" > "$OUT/$net/$tag.cmd"
  echo "[$(date +%H:%M:%S)] $net $tag" >&2
  "${cmd[@]}" > "$OUT/$net/$tag.txt"
}

bench_infer() { # net run tag isa
  local net=$1 run=$2 tag=$3 isa=$4
  local bench=$OUT/$net/bench_${tag}_$isa.json
  [[ -f $bench ]] && return 0
  echo "$FXNN bench infer --model $OUT/$net/$tag --config $run/config.yaml --batch 256 --isa $isa" > "${bench%.json}.cmd"
  echo "[$(date +%H:%M:%S)] $net bench $tag $isa" >&2
  "$FXNN" bench infer --model "$OUT/$net/$tag" --config "$run/config.yaml" --batch 256 --isa "$isa" > "$bench"
}

ablations() { # net run mode bits
  local net=$1 run=$2 mode=$3 bits=$4
  local base=(--mode "$mode" --bits "$bits")
  convert "$net" "$run" "${mode}_b${bits}_maxabs" "${base[@]}" --steps maxabs
  convert "$net" "$run" "${mode}_b${bits}_channel" "${base[@]}" --granularity channel
  convert "$net" "$run" "${mode}_b${bits}_floor" "${base[@]}" --rounding floor
  convert "$net" "$run" "${mode}_b${bits}_input" "${base[@]}" --input-bits "$bits"
  convert "$net" "$run" "${mode}_b${bits}_nocorrection" "${base[@]}" --correction none
  convert "$net" "$run" "${mode}_b${bits}_edge8" "${base[@]}" --edge-bits 8
}

# The MLP's float run (minutes) belongs to this experiment; --resume finishes one that was interrupted.
mlp_run=${RUNS[mlp]}
if [[ " $NETS " == *" mlp "* ]] &&
   { [[ ! -f $mlp_run/checkpoint.pt ]] || [[ $(epochs_done "$mlp_run") -lt $(epochs_wanted "$mlp_run") ]]; }; then
  echo "[$(date +%H:%M:%S)] training the MLP in float" >&2
  "$FXNN" train --config configs/fashion_mnist_mlp.yaml --out "$mlp_run" --quiet --resume
fi

# The kernels first (a minute): they need no float run.
for bits in 2 3; do
  bench=$OUT/bench_narrow_b$bits.json
  [[ -f $bench ]] && continue
  mkdir -p "$OUT"
  echo "$FXNN bench narrow --bits $bits" > "${bench%.json}.cmd"
  echo "[$(date +%H:%M:%S)] bench narrow $bits" >&2
  "$FXNN" bench narrow --bits "$bits" > "$bench"
done

# Per network: the sweep over B in both modes, `fxnn bench infer`, then the ablations: at B = 2 and 3
# in both modes on the MLP; on the convolutional networks (minutes per conversion on 2 shared cores)
# at the MLP's acceptance points, shift-clip B = 3 first, then float-scale B = 2.
for net in $NETS; do
  run=${RUNS[$net]}
  if [[ ! -f $run/checkpoint.pt ]]; then
    echo "skipping $net: no float run at $run (no checkpoint.pt)" >&2
    continue
  fi
  if [[ $(epochs_done "$run") -lt $(epochs_wanted "$run") ]]; then
    echo "skipping $net: $run has $(epochs_done "$run") of $(epochs_wanted "$run") epochs (still training?)" >&2
    continue
  fi
  mkdir -p "$OUT/$net"
  for bits in 2 3 4 5 6 8; do
    for mode in float-scale shift-clip; do convert "$net" "$run" "${mode}_b$bits" --mode "$mode" --bits "$bits"; done
  done
  for tag in float-scale_b2 shift-clip_b3; do
    for isa in auto portable; do bench_infer "$net" "$run" "$tag" "$isa"; done
  done
  if [[ $net == mlp ]]; then
    bench_infer "$net" "$run" shift-clip_b8 auto
    bench_infer "$net" "$run" shift-clip_b8 portable
    for bits in 2 3; do
      for mode in float-scale shift-clip; do ablations "$net" "$run" "$mode" "$bits"; done
    done
  else
    ablations "$net" "$run" shift-clip 3
    ablations "$net" "$run" float-scale 2
  fi
done
/usr/bin/python3 experiments/lowbit/make_readme.py "$OUT" > experiments/lowbit/README.md
echo "wrote experiments/lowbit/README.md" >&2
