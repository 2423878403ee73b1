#!/usr/bin/env bash
# Speed of the integer runtime against LibTorch (experiments/deployment/README.md, "Runtime speed"):
# short training runs of the benchmark networks (speed does not depend on accuracy), their network
# folders, the 64-128-128-10 MLP, then `fxnn bench infer` at batch 256 and batch 1 on 1 and 2 threads,
# with the VNNI kernels and with the portable (no AVX-512) ones. Writes runs/deployment_speed/.
#
# Usage: experiments/deployment/speed.sh prepare      # train and export (no timing)
#        experiments/deployment/speed.sh check        # fxnn infer --check of every folder (slow, no timing)
#        experiments/deployment/speed.sh bench [SET]   # the benchmarks: SET = all | main | latency | vnni | portable | train
#        experiments/deployment/speed.sh table         # the tables of the README from the JSON files
# THREADS="1" or "2" limits a bench run to those thread counts (default "1 2"). Timings are only
# meaningful on otherwise idle cores: run `bench` while nothing else runs (the README
# says how the measurements quoted were taken).
set -euo pipefail
cd "$(dirname "$0")/../.."
FXNN=${FXNN:-build/fxnn}
OUT=${OUT:-runs/deployment_speed}
FM=configs/fashion_mnist_cnn.yaml
C10=configs/cifar10_convnet.yaml
SUBSET=(--set train.epochs=1 --set data.train_limit=2000 --set data.test_limit=1000)
mkdir -p "$OUT/results"

# name config plan-or-"assigned" [extra --set ...]: a run and its network folder.
network() {
  local name=$1 config=$2 plan=$3
  shift 3
  if [ ! -d "$OUT/$name/net" ]; then
    if [ "$plan" = assigned ]; then
      # The analytic assignment (probe, plan, FX run) on the subset; its plan mixes 8- and 16-bit codes.
      $FXNN run --config "$config" "${SUBSET[@]}" "$@" --injection-draws 0 --samples 50 --threads 1 --quiet \
        --out "$OUT/$name/pipeline"
      $FXNN export --run "$OUT/$name/pipeline/fx" --out "$OUT/$name/net"
    else
      $FXNN train --config "$config" --precision "$plan" "${SUBSET[@]}" "$@" --threads 1 --quiet --out "$OUT/$name/run"
      $FXNN export --run "$OUT/$name/run" --out "$OUT/$name/net"
    fi
  fi
}

# 0 mismatches against the LibTorch simulation, on the whole test set, with either instruction set.
check() {
  for pair in fashion_mnist_cnn_uniform8:$FM fashion_mnist_cnn_assigned:$FM cifar10_convnet_uniform8:$C10 \
              cifar10_convnet_assigned:$C10 cifar10_convnet_wide16:$C10; do
    for isa in avx512amx avx512vnni portable; do
      $FXNN infer --model "$OUT/${pair%%:*}/net" --config "${pair#*:}" --check --quiet --isa "$isa" \
        --json "$OUT/results/${pair%%:*}.check.$isa.json"
    done
  done
}

prepare() {
  network fashion_mnist_cnn_uniform8 $FM configs/plans/uniform8.yaml
  network fashion_mnist_cnn_assigned $FM assigned
  network cifar10_convnet_uniform8 $C10 configs/plans/uniform8.yaml --set model.width=0.25
  network cifar10_convnet_assigned $C10 assigned --set model.width=0.25
  network cifar10_convnet_wide16 $C10 experiments/deployment/wide16.yaml --set model.width=0.25
  [ -d "$OUT/mlp_64_128_128_10/net" ] || /usr/bin/python3 experiments/deployment/make_mlp.py "$OUT/mlp_64_128_128_10/net"
}

# name config batch threads isa [tag env...]: one `fxnn bench infer`, its JSON in results/.
bench_one() {
  local name=$1 config=$2 batch=$3 threads=$4 isa=$5 tag=${6:-$5}
  shift $(($# < 6 ? $# : 6))
  local data=() result="$OUT/results/$name.b$batch.t$threads.$tag.json"
  [ -n "$config" ] && data=(--config "$config")
  # A complete result is kept (FORCE=1 measures again): a series can be taken in several quiet windows.
  if [ -z "${FORCE:-}" ] && grep -qs '"fxnn_profile"' "$result"; then return; fi
  echo "bench $name batch $batch threads $threads $tag $*" >&2
  env "$@" $FXNN bench infer --model "$OUT/$name/net" "${data[@]}" --batch "$batch" --threads "$threads" --isa "$isa" \
    > "$result.partial"
  mv "$result.partial" "$result"
}

bench() {
  local set=${1:-all}
  for threads in ${THREADS:-1 2}; do
    if [ "$set" = all ] || [ "$set" = main ]; then
      bench_one fashion_mnist_cnn_uniform8 $FM 256 $threads auto
      bench_one fashion_mnist_cnn_assigned $FM 256 $threads auto
      bench_one cifar10_convnet_uniform8 $C10 256 $threads auto
      bench_one cifar10_convnet_assigned $C10 256 $threads auto
      bench_one cifar10_convnet_wide16 $C10 256 $threads auto
    fi
    if [ "$set" = all ] || [ "$set" = latency ]; then
      bench_one mlp_64_128_128_10 "" 1 $threads auto
      bench_one fashion_mnist_cnn_uniform8 $FM 1 $threads auto
      bench_one cifar10_convnet_uniform8 $C10 1 $threads auto
    fi
    if [ "$set" = all ] || [ "$set" = vnni ]; then
      # The VNNI tiles alone (no AMX), against LibTorch as it is and against oneDNN kept to VNNI
      # (ONEDNN_MAX_CPU_ISA): the comparison on a CPU with AVX-512 VNNI but no AMX.
      for name in fashion_mnist_cnn_uniform8:$FM fashion_mnist_cnn_assigned:$FM cifar10_convnet_uniform8:$C10 \
                  cifar10_convnet_assigned:$C10; do
        bench_one "${name%%:*}" "${name#*:}" 256 $threads avx512vnni
        bench_one "${name%%:*}" "${name#*:}" 256 $threads avx512vnni avx512vnni-vnnipeers ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI
      done
    fi
    if [ "$set" = all ] || [ "$set" = portable ]; then
      # The portable kernels (no AVX-512) against LibTorch as it is, and against LibTorch kept to AVX2
      # as well (oneDNN's ONEDNN_MAX_CPU_ISA): what a CPU without AVX-512 would compare.
      for name in fashion_mnist_cnn_uniform8:$FM cifar10_convnet_uniform8:$C10; do
        bench_one "${name%%:*}" "${name#*:}" 256 $threads portable
        bench_one "${name%%:*}" "${name#*:}" 256 $threads portable portable-avx2peers ONEDNN_MAX_CPU_ISA=AVX2
      done
      bench_one mlp_64_128_128_10 "" 1 $threads portable
      bench_one mlp_64_128_128_10 "" 1 $threads portable portable-avx2peers ONEDNN_MAX_CPU_ISA=AVX2
    fi
  done
}

# The training step's ratio (FX with the assigned plan against FL, same network, alternated steps):
# deployment speed must not be bought with a slower fixed-point training step.
bench_train() {
  local threads
  for threads in ${THREADS:-1 2}; do
    # name:config:batch:width (the widths the networks were prepared at)
    for pair in fashion_mnist_cnn:$FM:128:1.0 cifar10_convnet:$C10:250:0.25; do
      IFS=: read -r name config batch width <<< "$pair"
      local result="$OUT/results/train.$name.t$threads.json"
      if [ -z "${FORCE:-}" ] && grep -qs '"ratio"' "$result"; then continue; fi
      echo "bench train $name threads $threads" >&2
      $FXNN bench train --config "$config" --set "model.width=$width" --precision "$OUT/${name}_assigned/pipeline/plan.yaml" \
        --batch "$batch" --steps 10 --threads "$threads" > "$result.partial"
      mv "$result.partial" "$result"
    done
  done
}

case "${1:-}" in
  prepare) prepare ;;
  check) check ;;
  bench) if [ "${2:-all}" = train ]; then bench_train; else bench "${2:-all}"; [ "${2:-all}" = all ] && bench_train; fi ;;
  table) /usr/bin/python3 experiments/deployment/speed_table.py "$OUT/results" ;;
  *) echo "usage: $0 prepare | check | bench [all|main|latency|vnni|portable|train] | table" >&2; exit 2 ;;
esac
