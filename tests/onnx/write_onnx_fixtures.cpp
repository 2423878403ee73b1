// Writes what the ONNX Runtime and numpy checks compare (tests/onnx/*.js, *.py): for each sample
// network OUT/<name>/ holds the network folder (net/), random input codes with the format's extremes
// (input.npy), the integer runtime's output codes (codes.npy), the two exports of the folder by
// run_onnx_export, the library of `fxnn export-onnx` (qdq.onnx, qonnx.onnx), and the graph input's
// element type (input_type.txt). OUT/wide/net is a network the qdq flavor refuses (for the command's check).
//   write_onnx_fixtures OUT

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/onnx_export/onnx_export_run.h"
#include "fxnn/runtime/engine.h"
#include "sample_networks.h"

namespace {

using namespace fxnn;
constexpr int64_t kSamples = 64;

void write_fixture(const ir::Network& net, const std::string& dir) {
  std::filesystem::create_directories(dir);
  ir::save_network(net, dir + "/net", ExistingOutput::kReplace);
  int64_t per_sample = 1;
  for (int64_t d : net.input_shape) per_sample *= d;
  const Format& f = net.input_format;
  std::vector<int64_t> codes =
      onnx_testing::draw(static_cast<size_t>(kSamples * per_sample), f.code_min(), f.code_max(), 11);
  // The first sample holds the extremes and zero, the second every code of a small range (the ties).
  for (int64_t i = 0; i < per_sample; ++i) {
    codes[size_t(i)] = i % 3 == 0 ? f.code_min() : i % 3 == 1 ? f.code_max() : 0;
    codes[size_t(per_sample + i)] = std::clamp<int64_t>(i - per_sample / 2, f.code_min(), f.code_max());
  }
  std::vector<int64_t> shape{kSamples};
  shape.insert(shape.end(), net.input_shape.begin(), net.input_shape.end());
  const runtime::Codes input = runtime::Codes::from_values(f, shape, codes.data());
  runtime::Engine engine(net, runtime::EngineOptions().with_reference(true).with_threads(1));
  const runtime::Codes output = engine.run(input);
  io::save_npy(dir + "/input.npy", {shape, io::narrowest_npy_dtype(f.code_min(), f.code_max()), codes});
  io::save_npy(dir + "/codes.npy", {output.shape(), io::NpyDType::kInt64, output.to_int64()});
  write_file_atomic(dir + "/input_type.txt", ir::max_abs_code(f) <= (uint64_t{1} << 24) ? "float32\n" : "float64\n");
  for (const char* flavor : {"qdq", "qonnx"}) {
    onnx_export::OnnxExportRunOptions options;
    options.model = dir + "/net";
    options.out = dir + "/" + flavor + ".onnx";
    options.flavor = flavor;
    onnx_export::run_onnx_export(options);
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: write_onnx_fixtures OUT\n");
    return 2;
  }
  try {
    const std::string out = argv[1];
    for (const ir::Network& net : onnx_testing::exact_networks()) write_fixture(net, out + "/" + net.name);
    std::filesystem::create_directories(out + "/wide");
    ir::save_network(onnx_testing::wide_accumulator(), out + "/wide/net", ExistingOutput::kReplace);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_onnx_fixtures: %s\n", e.what());
    return 1;
  }
  return 0;
}
