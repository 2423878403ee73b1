// The fixed-point network folder: save and load give the same network, and every kind of damage
// (bad JSON, missing or unknown key, truncated or reshaped .npy, values outside their format) is
// an error that names the file at fault.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "../runtime/random_network.h"
#include "../support/temp_dir.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/model_header.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/runtime/engine.h"

namespace {

using fxnn::Format;
using fxnn::ir::load_network;
using fxnn::ir::manifest_json;
using fxnn::ir::Network;
using fxnn::ir::save_network;
using fxnn::testing_support::TempDir;
namespace fs = std::filesystem;

Network sample_network(fxnn::runtime_testing::NetworkBuilder& b) {
  b.rescale(Format(12, 8, true))
      .conv(6, 3, 1, 1, fxnn::runtime_testing::medium(), true)
      .pool(fxnn::ir::OpKind::kMaxPool, 2, 2)
      .flatten()
      .dense(4, fxnn::runtime_testing::narrow(), false);
  return b.build();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

/// load_network(dir) throws a runtime_error whose message contains every one of `parts`.
void expect_load_error(const std::string& dir, const std::vector<std::string>& parts) {
  try {
    load_network(dir);
    ADD_FAILURE() << "load_network accepted a damaged folder";
  } catch (const std::runtime_error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(NetworkFiles, SaveThenLoadGivesTheSameNetworkAndOutputs) {
  TempDir tmp;
  fxnn::runtime_testing::NetworkBuilder b(3, {2, 7, 6}, Format(8, 0, false));
  const Network net = sample_network(b);
  save_network(net, tmp / "m");
  for (const char* f : {"model.json", "model.h", "conv1.weight.npy", "conv1.multiplier.npy", "dense4.offset.npy"})
    EXPECT_TRUE(fs::exists(tmp / ("m/" + std::string(f)))) << f;
  const Network back = load_network(tmp / "m");
  EXPECT_EQ(manifest_json(back), manifest_json(net));
  const auto input = b.input(5);
  EXPECT_EQ(fxnn::runtime::Engine(back).run(input).to_int64(), fxnn::runtime::Engine(net).run(input).to_int64());
  // The weights are stored in the narrowest type: s10 weights as int16.
  EXPECT_EQ(fxnn::io::load_npy(tmp / "m/conv1.weight.npy").dtype, fxnn::io::NpyDType::kInt16);
  EXPECT_EQ(fxnn::io::load_npy(tmp / "m/dense4.weight.npy").dtype, fxnn::io::NpyDType::kInt8);
}

TEST(NetworkFiles, DamagedManifestNamesFileAndKey) {
  TempDir tmp;
  fxnn::runtime_testing::NetworkBuilder b(4, {2, 7, 6}, Format(8, 0, false));
  save_network(sample_network(b), tmp / "m");
  const std::string manifest = tmp / "m/model.json", good = slurp(manifest);
  const auto edited = [&](const std::function<void(nlohmann::json&)>& edit) {
    auto j = nlohmann::json::parse(good);
    edit(j);
    write(manifest, j.dump(2));
  };

  write(manifest, good.substr(0, good.size() / 2));
  expect_load_error(tmp / "m", {"model.json", "not valid JSON"});
  // A number beyond double's range: nlohmann throws out_of_range, not parse_error.
  write(manifest, "{\"version\": 1E7777}");
  expect_load_error(tmp / "m", {"model.json", "not valid JSON", "number overflow"});

  edited([](nlohmann::json& j) { j["nodes"][0]["requantize"].erase("shift"); });
  expect_load_error(tmp / "m", {"model.json", "rescale0", "shift"});

  edited([](nlohmann::json& j) { j["nodes"][1]["stride_y"] = 2; });
  expect_load_error(tmp / "m", {"model.json", "conv1", "stride_y"});

  edited([](nlohmann::json& j) { j["version"] = 99; });
  expect_load_error(tmp / "m", {"model.json", "version"});

  edited([](nlohmann::json& j) { j["nodes"][1]["weight"]["file"] = "../conv1.weight.npy"; });
  expect_load_error(tmp / "m", {"model.json", "weight.file"});

  // A node whose declared output shape disagrees with its input.
  edited([](nlohmann::json& j) { j["nodes"][1]["output_shape"] = {6, 7, 5}; });
  expect_load_error(tmp / "m", {"model.json", "conv1", "output_shape"});

  write(manifest, good);
  EXPECT_NO_THROW(load_network(tmp / "m"));
}

TEST(NetworkFiles, DamagedArraysNameTheFile) {
  TempDir tmp;
  fxnn::runtime_testing::NetworkBuilder b(5, {2, 7, 6}, Format(8, 0, false));
  const Network net = sample_network(b);
  save_network(net, tmp / "m");
  const std::string npy = tmp / "m/conv1.weight.npy", good = slurp(npy);

  write(npy, good.substr(0, good.size() - 3));
  expect_load_error(tmp / "m", {"conv1.weight.npy"});

  write(npy, "not a numpy file");
  expect_load_error(tmp / "m", {"conv1.weight.npy"});

  // The right file format, the wrong shape.
  fxnn::io::NpyArray wrong{{6, 2, 3, 2}, fxnn::io::NpyDType::kInt16, std::vector<int64_t>(72, 1)};
  fxnn::io::save_npy(npy, wrong);
  expect_load_error(tmp / "m", {"conv1.weight.npy", "shape"});

  // A weight outside its format (s10: [-512, 511]).
  fxnn::io::NpyArray big{{6, 2, 3, 3}, fxnn::io::NpyDType::kInt16, std::vector<int64_t>(108, 600)};
  fxnn::io::save_npy(npy, big);
  expect_load_error(tmp / "m", {"conv1.weight.npy", "600"});

  fs::remove(npy);
  expect_load_error(tmp / "m", {"conv1.weight.npy"});
}

TEST(NetworkFiles, ModelHeaderCompilesAndHoldsTheWeights) {
  TempDir tmp;
  fxnn::runtime_testing::NetworkBuilder b(6, {2, 7, 6}, Format(8, 0, false));
  const Network net = sample_network(b);
  save_network(net, tmp / "m");
  // A C program that sums the weights of dense4 from model.h must print the same sum.
  int64_t sum = 0;
  for (int64_t w : net.nodes[4].weight->data) sum += w;
  write(tmp / "main.c",
        "#include <stdio.h>\n#include \"m/model.h\"\nint main(void) { long long s = 0;\n"
        "  for (unsigned i = 0; i < sizeof dense4_weight / sizeof dense4_weight[0]; ++i) s += dense4_weight[i];\n"
        "  printf(\"%lld\\n\", s); return 0; }\n");
  const std::string cmd = "cc -std=c99 -Wall -Werror -o " + (tmp / "main") + " " + (tmp / "main.c") + " -I" +
                          tmp.str() + " && " + (tmp / "main") + " > " + (tmp / "out.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(std::stoll(slurp(tmp / "out.txt")), sum);
}

} // namespace
