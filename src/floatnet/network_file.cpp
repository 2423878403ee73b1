#include "fxnn/floatnet/network_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <stdexcept>

#include "fxnn/floatnet/nnet_import.h"
#include "fxnn/floatnet/onnx_import.h"

namespace fxnn::floatnet {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

} // namespace

bool is_network_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".nnet" || ext == ".onnx";
}

FloatNetwork read_network_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".nnet") return read_nnet(path);
  if (ext == ".onnx") return read_onnx(path);
  throw std::runtime_error(
      path + ": unknown model format (expected a .nnet or .onnx file, or an fxnn run directory or checkpoint.pt)");
}

} // namespace fxnn::floatnet
