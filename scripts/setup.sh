#!/usr/bin/env bash
# Installs the Debian packages fxnn needs (only the missing ones), configures and builds into build/.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Usage: scripts/setup.sh            (sourced by run.sh and test.sh; may be run alone)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libtorch-dev libopenblas0-openmp          # LibTorch (CPU); OpenBLAS instead of the 30x slower reference BLAS
  libgloo-dev                               # headers of LibTorch's Gloo process groups (data-parallel runs)
  libeigen3-dev libspdlog-dev libyaml-cpp-dev libcli11-dev nlohmann-json3-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libmatio-dev libturbojpeg0-dev            # SVHN .mat files, JPEG folders
  dataset-fashion-mnist                     # the embedded default data set
  coinor-libcbc-dev coinor-libclp-dev       # synthesis: LP/MILP solvers (CBC, CLP)
  libonnx-dev libprotobuf-dev libboost-dev  # synthesis: ONNX import, exact rationals (cpp_rational)
  python3-matplotlib python3-numpy          # plots and the numpy reader
  python3-onnx                              # the ONNX checker and the QONNX evaluator of the export tests
  python3-torch python3-yaml                # the Python package (python/): the same LibTorch 1.13.1 build
  clang-14 libclang-rt-14-dev               # fuzzing: libFuzzer, AddressSanitizer, UBSan (scripts/fuzz.sh)
  clang-format-14 clang-tidy-14             # the layout (.clang-format) and lint (.clang-tidy) checks of the test suite
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "fxnn setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# ONNX Runtime for Node, which the test onnx_qdq_onnxruntime runs the qdq exports with (docs/onnx.md):
# installed into build/ort once, only where npm is available (the test skips without it). No install
# scripts run: the CPU binaries ship inside the package. The version is the one the exports were checked with.
if command -v npm >/dev/null 2>&1 && [ ! -d build/ort/node_modules/onnxruntime-node ]; then
  mkdir -p build/ort
  npm install --ignore-scripts --no-audit --no-fund --prefix build/ort onnxruntime-node@1.30.0 ||
    echo "fxnn setup: npm could not install onnxruntime-node; the ONNX Runtime test will be skipped"
fi

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build --parallel "$(nproc)"
