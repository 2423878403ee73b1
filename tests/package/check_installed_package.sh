#!/bin/sh
# The installed package (docs/package.md): installs this build into a temporary prefix, builds both
# examples/ against it with a fresh CMake run each, trains the user-defined model for one short epoch
# on a subset, classifies its test image with the runtime-only program, and checks the version
# handshake (fxnnConfigVersion.cmake) and that the runtime example needs no LibTorch.
#   check_installed_package.sh BUILD_DIR SOURCE_DIR GENERATOR
# Exit 77 (skipped) when Fashion-MNIST (dataset-fashion-mnist) is not installed.
set -eu
build=$1 src=$2 generator=$3
if [ ! -d /usr/share/datasets/fashion-mnist ]; then
  echo "dataset-fashion-mnist is not installed"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
test -f "$prefix/lib/cmake/fxnn/fxnnConfig.cmake"
test -f "$prefix/lib/cmake/fxnn/fxnnConfigVersion.cmake"
test -f "$prefix/include/fxnn/version.h"
version=$(sed -n 's/^#define FXNN_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/fxnn/version.h")
"$prefix/bin/fxnn" --version | grep -q "^fxnn $version "

for example in classify_with_runtime train_custom_model; do
  cmake -S "$src/examples/$example" -B "$tmp/$example" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/$example.configure.log" || { cat "$tmp/$example.configure.log"; exit 1; }
  cmake --build "$tmp/$example" > "$tmp/$example.build.log" || { cat "$tmp/$example.build.log"; exit 1; }
done
# Torch-free: the runtime example loads no LibTorch library.
if ldd "$tmp/classify_with_runtime/classify_with_runtime" | grep -q -e libtorch -e libc10; then
  echo "classify_with_runtime links LibTorch"
  exit 1
fi

"$tmp/train_custom_model/train_custom_model" "$src/examples/train_custom_model/plan.yaml" "$tmp/out" 2000 1 \
  | tee "$tmp/train.log"
grep -q "^epoch 1: test accuracy" "$tmp/train.log"
"$tmp/classify_with_runtime/classify_with_runtime" "$tmp/out/network" "$tmp/out/test_image.pgm" | tee "$tmp/classify.log"
grep -q "^class [0-9] (fxnn $version, custom_cnn" "$tmp/classify.log"

# The version handshake: the installed version is found, a later minor version is refused.
mkdir -p "$tmp/want"
cat > "$tmp/want/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.18)
project(want LANGUAGES CXX)
find_package(fxnn \${WANT} REQUIRED)
CMAKE
cmake -S "$tmp/want" -B "$tmp/want/ok" -DWANT="$version" -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
major=${version%%.*} rest=${version#*.}
minor=${rest%%.*}
if cmake -S "$tmp/want" -B "$tmp/want/later" -DWANT="$major.$((minor + 1))" -DCMAKE_PREFIX_PATH="$prefix" \
  > "$tmp/want/later.log" 2>&1; then
  echo "find_package(fxnn $major.$((minor + 1))) accepted version $version"
  exit 1
fi
# The Python package from the install: its operators come from the library installed inside it.
if /usr/bin/python3 -c "import torch, yaml" 2> /dev/null; then
  python_version=$(cd "$tmp" && PYTHONPATH="$prefix/lib/python3/dist-packages" /usr/bin/python3 -c \
    "import fxnn, torch; print(fxnn.__version__, fxnn._library.library_path().startswith('$prefix'))")
  test "$python_version" = "$version True"
fi
echo "installed package: OK (fxnn $version)"
