#pragma once
// What tests need to find: the fxnn binary, the source tree, the Fashion-MNIST package.

#include <filesystem>
#include <string>

namespace fxnn::testing_support {

inline const std::string kFxnnBinary = FXNN_BINARY;
inline const std::string kSourceDir = FXNN_SOURCE_DIR;

/// Debian's dataset-fashion-mnist; tests that train skip without it.
inline bool have_fashion_mnist() {
  return std::filesystem::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");
}

} // namespace fxnn::testing_support
