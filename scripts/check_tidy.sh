#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy on the sources of the libraries without LibTorch
# (fxnn_base, fxnn_runtime, fxnn_synth: docs/architecture.md); any finding fails. Run by the test
# suite (CTest `tidy`). The LibTorch half is left out: it is compiled with GCC's precompiled headers
# of LibTorch, which clang-tidy cannot read.
# Usage: scripts/check_tidy.sh BUILD_DIR [ROOT]   (BUILD_DIR holds compile_commands.json)
set -euo pipefail
BUILD=$(cd "${1:?usage: check_tidy.sh BUILD_DIR [ROOT]}" && pwd)
ROOT=${2:-$(dirname "$0")/..}
cd "$ROOT"
TIDY=$(command -v clang-tidy-14 || command -v clang-tidy || true)
[[ -n $TIDY ]] || { echo "check_tidy: clang-tidy-14 not found (scripts/setup.sh installs it)" >&2; exit 1; }
[[ -f $BUILD/compile_commands.json ]] || { echo "check_tidy: $BUILD/compile_commands.json missing (configure with CMake)" >&2; exit 1; }
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
FILES=(src/{core,io,ir,lowbit,runtime,floatnet,codegen,onnx_export,synth}/*.cpp)
printf '%s\n' "${FILES[@]}" |
  xargs -P "$(nproc)" -n 4 "$TIDY" -p "$BUILD" --quiet --warnings-as-errors='*' > "$LOG" 2>&1 || true
if grep -E "(warning|error): " "$LOG" | grep -v "warnings generated" > /dev/null; then
  grep -E -A3 "(warning|error): " "$LOG" | grep -v "warnings generated"
  echo "check_tidy: findings above (.clang-tidy lists the checks)"
  exit 1
fi
echo "check_tidy: no findings in ${#FILES[@]} files"
