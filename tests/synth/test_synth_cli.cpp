// `fxnn synth` as a user runs it: bad input gives one clear line on stderr, a non-zero exit and no
// output files; a good run writes the C, the report and the fixed-point network.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "../floatnet/onnx_builder.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/ir/network_files.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

using testing_support::CommandResult;
using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const std::string kFxnn = FXNN_BINARY;

std::string synth(const std::string& model, const std::string& extra) {
  return kFxnn + " synth --model " + model + " " + extra;
}

void expect_one_line_error(const CommandResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("fxnn: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

class SynthCli : public ::testing::Test {
 protected:
  void SetUp() override { write_file_atomic(model_, synth_testing::kNormalizedNNet); }
  /// Runs `fxnn synth` on the tiny network with code, network and report requested, so that a
  /// failure must also leave nothing behind.
  CommandResult run(const std::string& options) {
    return run_command(
        synth(model_, options + " --emit-c " + dir_ / "c" + " --out " + dir_ / "net" + " --json " + dir_ / "r.json"),
        dir_.str());
  }
  void expect_nothing_written() {
    EXPECT_FALSE(fs::exists(dir_ / "c"));
    EXPECT_FALSE(fs::exists(dir_ / "net"));
  }
  TempDir dir_;
  std::string model_ = dir_ / "tiny.nnet";
};

TEST_F(SynthCli, CertifiedRunWritesCodeReportAndNetwork) {
  const auto r = run("--input-box -1:1,-0.5:1 --error 1e-3 --method milp --name tiny --validate 2000");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("sanitizer clean"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "c/tiny.c"));
  const ir::Network net = ir::load_network(dir_ / "net");
  ASSERT_EQ(net.nodes.size(), 2u);
  EXPECT_EQ(net.name, "tiny");
  EXPECT_EQ(net.input_shape, std::vector<int64_t>{2});
  const auto j = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_EQ(j["status"], "certified");
  EXPECT_EQ(j["fixed_point_network"], dir_ / "net");
  EXPECT_EQ(net.input_format.frac, j["input_frac"][0].get<int>());
  EXPECT_LE(j["validation"]["max_error_all"].get<double>(), j["certified_bound"].get<double>());
}

TEST_F(SynthCli, OutNeverReplacesWhatFxnnDidNotWrite) {
  const std::string box = "--input-box -1:1,-0.5:1 --error 1e-3 --method lp --name tiny";
  // A user's folder: refused before synthesis, with or without --force, and left as it was.
  fs::create_directories(dir_ / "mine");
  write_file_atomic(dir_ / "mine/notes.txt", "keep");
  for (const char* force : {"", " --force"}) {
    const auto r = run_command(synth(model_, box + " --out " + dir_ / "mine" + force), dir_.str());
    expect_one_line_error(r, dir_ / "mine" + ": not a fixed-point network folder written by fxnn (it holds notes.txt)");
    EXPECT_EQ(read_file(dir_ / "mine/notes.txt"), "keep");
  }
  // A network folder it wrote: replaced only with --force.
  ASSERT_EQ(run_command(synth(model_, box + " --out " + dir_ / "net"), dir_.str()).exit_code, 0);
  expect_one_line_error(run_command(synth(model_, box + " --out " + dir_ / "net"), dir_.str()),
                        dir_ / "net" + ": holds a fixed-point network folder already; add --force to replace it");
  EXPECT_EQ(run_command(synth(model_, box + " --out " + dir_ / "net --force"), dir_.str()).exit_code, 0);
  EXPECT_NO_THROW(ir::load_network(dir_ / "net"));
}

TEST_F(SynthCli, MalformedNNetNamesTheFileAndLine) {
  std::string text = synth_testing::kNormalizedNNet;
  write_file_atomic(model_, text.replace(text.find("0.5,0.5,"), 8, "0.5,"));
  expect_one_line_error(run("--input-box 0:1,0:1 --error 1e-3"),
                        "tiny.nnet:11: layer 1 weight row 2: expected 2 values, found 1");
  expect_nothing_written();
}

TEST_F(SynthCli, UnsupportedOnnxOperatorNamesItAndItsNode) {
  testing_support::OnnxBuilder b(9, {-1, 2});
  b.constant("W", {2, 2}, {1, 0, 0, 1}, true);
  b.node("MatMul", {"x", "W"}, "m", "dense");
  b.node("Softmax", {"m"}, "y", "probabilities");
  write_file_atomic(dir_ / "soft.onnx", b.bytes("y"));
  const auto r =
      run_command(synth(dir_ / "soft.onnx", "--input-box 0:1,0:1 --error 1e-3 --emit-c " + dir_ / "c"), dir_.str());
  expect_one_line_error(r, "soft.onnx: unsupported ONNX operator 'Softmax' (node 'probabilities')");
  expect_nothing_written();
}

TEST_F(SynthCli, EmptyOrInvertedBoxesAreRefused) {
  expect_one_line_error(run("--input-box '' --error 1e-3"), "--input-box: the box is empty");
  expect_one_line_error(run("--input-box 0:1,1:0 --error 1e-3"), "interval 2 '1:0' is inverted (lo > hi)");
  expect_one_line_error(run("--input-box 0:1, --error 1e-3"), "empty interval after the last comma");
  expect_one_line_error(run("--input-box 0:1 --error 1e-3"),
                        "the input box has 1 intervals, the network takes 2 inputs");
  // In a benchmark suite file.
  write_file_atomic(dir_ / "suite.yaml",
                    "benchmarks:\n  - name: tiny\n    model: tiny.nnet\n    error_bound: 0.001\n"
                    "    input_box:\n      - [0.0, 1.0]\n      - [2.0, 1.0]\n");
  expect_one_line_error(
      run_command(kFxnn + " synth --benchmarks " + dir_ / "suite.yaml" + " --benchmark tiny --emit-c " + dir_ / "c",
                  dir_.str()),
      "entry 2 is empty, inverted or not finite");
  expect_nothing_written();
}

TEST_F(SynthCli, NonPositiveEpsIsRefused) {
  expect_one_line_error(run("--input-box 0:1,0:1 --error 0"), "--error: eps must be a positive number, got 0");
  expect_one_line_error(run("--input-box 0:1,0:1 --error=-1e-3"), "--error: eps must be a positive number, got -0.001");
  expect_nothing_written();
}

TEST_F(SynthCli, NoFormatsNamesTheLayerAndTheBound) {
  const auto r = run("--input-box 0:1,0:1 --error 1e-6 --word 8 --acc 16 --method milp");
  expect_one_line_error(r, "infeasible:");
  EXPECT_NE(r.err.find("no formats within W = 8, A = 16 reach eps = 1e-06"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the finest formats give a certified bound of"), std::string::npos) << r.err;
  EXPECT_TRUE(r.err.find("comes from the rounding in layer") != std::string::npos ||
              r.err.find("comes from the rounding in the input quantization") != std::string::npos)
      << r.err;
  expect_nothing_written();
  const auto j = nlohmann::json::parse(read_file(dir_ / "r.json")); // the report says so too
  EXPECT_EQ(j["status"], "infeasible");
}

TEST_F(SynthCli, LpWithOutStoresEveryTensorAtOneFormat) {
  // Without --out, lp may store every neuron at its own format; the artifact has one per tensor.
  const auto r = run("--input-box -1:1,-0.5:1 --error 1e-4 --method lp --validate 500");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const ir::Network net = ir::load_network(dir_ / "net");
  const auto j = nlohmann::json::parse(read_file(dir_ / "r.json"));
  EXPECT_TRUE(j["artifact_formats"].get<bool>());
  ASSERT_EQ(j["layers"].size(), net.nodes.size());
  for (size_t l = 0; l < net.nodes.size(); ++l) {
    const auto& layer = j["layers"][l];
    const auto& formats = layer.contains("format") ? nlohmann::json::array({layer["format"]}) : layer["formats"];
    for (const auto& f : formats)
      EXPECT_EQ(f["frac_out"].get<int>(), net.nodes[l].output_format.frac) << "layer " << l + 1;
  }
  EXPECT_NE(r.out.find("note: formats also for the fixed-point network"), std::string::npos) << r.out;
}

TEST(SynthCliRealData, OnnxControllersSynthesizeFromTheSuite) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  TempDir tmp;
  const auto r =
      run_command(kFxnn + " synth --benchmarks " + dir + "/benchmarks.yaml --benchmark " +
                      "controller_double_pendulum_less_robust --method milp --validate 1000 --out " + tmp / "net",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("controller_double_pendulum_less_robust.onnx"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("certified: error bound"), std::string::npos) << r.out;
  EXPECT_EQ(ir::load_network(tmp / "net").nodes.size(), 3u);
}

} // namespace
} // namespace fxnn::synth
