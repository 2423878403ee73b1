#!/usr/bin/env bash
# Builds the libFuzzer targets of every parser (fuzz/CMakeLists.txt, clang + ASan + UBSan) and runs
# each for SECONDS on its corpus: the seeds (real files and generated ones, written by
# fxnn_fuzz_seeds), the inputs earlier runs kept, and fuzz/regressions/<target>/ (every crash found
# so far, replayed first). Prints the executions per second of each target; exits 1 when a target
# crashes (the input is kept under BUILD/crashes/ and the end of its log is printed).
#
# Usage: scripts/fuzz.sh SECONDS [TARGET...]       (default: every target, one after the other)
# Environment: FXNN_FUZZ_BUILD (build folder, default build-fuzz), FXNN_FUZZ_JOBS (parallel compile
#   jobs, default 2), FXNN_FUZZ_CXX / FXNN_FUZZ_CC (default clang++-14 / clang-14),
#   FXNN_FUZZ_RSS_MB (memory limit per target, default 2560), FXNN_FUZZ_REPORT (also write the table
#   of results to this file).
# The CTest fuzz_brief runs `scripts/fuzz.sh 4` with FXNN_FUZZ_BUILD inside its own build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh SECONDS [TARGET...]" >&2
  exit 2
fi
SECONDS_PER_TARGET=$1
shift
BUILD=${FXNN_FUZZ_BUILD:-build-fuzz}
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
JOBS=${FXNN_FUZZ_JOBS:-2}
CXX_COMPILER=${FXNN_FUZZ_CXX:-clang++-14}
C_COMPILER=${FXNN_FUZZ_CC:-clang-14}
RSS_MB=${FXNN_FUZZ_RSS_MB:-2560}
ALL_TARGETS=(idx cifar svhn_mat jpeg_folder nnet onnx onnx_layers benchmarks input_box experiment_config precision_plan
             network_folder npy)
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")

for tool in "$CXX_COMPILER" "$C_COMPILER" cmake ninja flock; do
  command -v "$tool" > /dev/null || {
    echo "fuzz.sh: $tool is missing (scripts/setup.sh installs clang-14 and libclang-rt-14-dev)" >&2
    exit 1
  }
done

mkdir -p "$BUILD"
# One fuzz run per build folder at a time (two CTest runs of one tree would share it).
exec 9> "$BUILD/.fuzz.lock"
flock 9

if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S fuzz -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER="$CXX_COMPILER" -DCMAKE_C_COMPILER="$C_COMPILER" > "$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log" >&2; exit 1; }
fi
build_start=$(date +%s)
ninja -C "$BUILD" -j "$JOBS" fxnn_fuzz_seeds "${TARGETS[@]/#/fuzz_}" > "$BUILD/build.log" 2>&1 || { tail -n 40 "$BUILD/build.log" >&2; exit 1; }
echo "fuzz.sh: build of $BUILD up to date ($(( $(date +%s) - build_start )) s)"

# Seeds are regenerated when the generator is newer than them (a new seed kind was added).
if [ ! -f "$BUILD/seeds/.done" ] || [ "$BUILD/fxnn_fuzz_seeds" -nt "$BUILD/seeds/.done" ]; then
  rm -rf "$BUILD/seeds"
  "$BUILD/fxnn_fuzz_seeds" "$BUILD/seeds" "$ROOT"
  touch "$BUILD/seeds/.done"
fi

mkdir -p "$BUILD/crashes" "$BUILD/logs"
results=()
failed=()
for target in "${TARGETS[@]}"; do
  binary="$BUILD/fuzz_$target"
  [ -x "$binary" ] || { echo "fuzz.sh: no target $target (have: ${ALL_TARGETS[*]})" >&2; exit 2; }
  corpus="$BUILD/corpus/$target"
  mkdir -p "$corpus" "$BUILD/seeds/$target" "fuzz/regressions/$target"
  # The files of each input go to a RAM disk where there is one: a disk folder costs ~3 ms per input.
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then scratch="/dev/shm/fxnn_fuzz_${target}_$$"; else scratch="$BUILD/scratch/$target"; fi
  log="$BUILD/logs/$target.log"
  # -timeout: one input taking longer is a hang (a crash). -rss_limit_mb and -malloc_limit_mb: an
  # input that makes a parser allocate beyond them is a crash too (sizes taken from a header unchecked).
  # The first directory receives the new inputs; the others are read only.
  status=0
  FXNN_FUZZ_SCRATCH="$scratch" "$binary" -max_total_time="$SECONDS_PER_TARGET" -timeout=20 \
    -rss_limit_mb="$RSS_MB" -malloc_limit_mb=1024 -print_final_stats=1 \
    -artifact_prefix="$BUILD/crashes/$target-" \
    "$corpus" "$BUILD/seeds/$target" "fuzz/regressions/$target" > "$log" 2>&1 || status=$?
  rm -rf "$scratch"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus_size=$(find "$corpus" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    line=$(printf '%-18s CRASH (exit %s) after %s runs; see %s' "$target" "$status" "${runs:-?}" "$log")
    echo "$line"
    grep -E "ERROR|SUMMARY|contract violated|Test unit written" "$log" | head -n 8 | sed 's/^/    /'
  else
    line=$(printf '%-18s %10s runs %8s exec/s  corpus %5s inputs' "$target" "${runs:-?}" "${rate:-?}" "$corpus_size")
    echo "$line"
  fi
  results+=("$line")
done

if [ -n "${FXNN_FUZZ_REPORT:-}" ]; then
  {
    echo "scripts/fuzz.sh $SECONDS_PER_TARGET ${TARGETS[*]}"
    printf '%s\n' "${results[@]}"
  } > "$FXNN_FUZZ_REPORT"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} target(s) crashed: ${failed[*]} (inputs in $BUILD/crashes/)" >&2
  exit 1
fi
echo "fuzz.sh: ${#TARGETS[@]} target(s), $SECONDS_PER_TARGET s each, no crash"
