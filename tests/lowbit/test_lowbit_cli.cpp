// `fxnn lowbit` as a command: bad input (a missing checkpoint, a fixed-point run's checkpoint, bits
// outside 2..8, an unknown mode or step rule) is one clear line and a non-zero exit with no output
// folder; a float run converts, prints both accuracies and 0 mismatches, and `fxnn infer --check`
// accepts the folder it wrote; a float ONNX network converts the same way (`--onnx`), and one the
// converter cannot take is one line naming the node. `fxnn bench narrow` runs and its 16-bit kernels agree with the
// 32-bit ones.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../floatnet/onnx_builder.h"
#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"

namespace fxnn {
namespace {

using testing_support::CommandResult;
using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const std::string& kFxnn = testing_support::kFxnnBinary;
const std::string kConfig = testing_support::kSourceDir + "/configs/fashion_mnist_mlp.yaml";
const std::string kTiny =
    " --quiet --set train.epochs=1 --set data.train_limit=1000 --set data.test_limit=200 --set model.hidden=[32]";

void expect_one_line_error(const CommandResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

/// `fxnn lowbit` of a checkpoint with the config of its run (the one beside it, or the repository's).
std::string lowbit(const std::string& checkpoint, const std::string& out, const std::string& extra) {
  const fs::path beside = fs::path(checkpoint).parent_path() / "config.yaml";
  const std::string config = fs::exists(beside) ? beside.string() : kConfig;
  return kFxnn + " lowbit --checkpoint " + checkpoint + " --config " + config + " --out " + out + " --quiet " + extra;
}

class LowbitCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

TEST_F(LowbitCli, BadInputIsOneClearLine) {
  TempDir tmp;
  const std::string out = tmp / "out";
  expect_one_line_error(run_command(lowbit(tmp / "none.pt", out, "--mode shift-clip --bits 3"), tmp.str()),
                        tmp / "none.pt");
  expect_one_line_error(run_command(lowbit(tmp / "none.pt", out, "--mode shift-clip --bits 9"), tmp.str()),
                        "--bits 9 is outside 2..8");
  expect_one_line_error(run_command(lowbit(tmp / "none.pt", out, "--mode shift-clip --bits 1"), tmp.str()),
                        "--bits 1 is outside 2..8");
  expect_one_line_error(run_command(lowbit(tmp / "none.pt", out, "--mode half --bits 3"), tmp.str()),
                        "unknown mode 'half' (float-scale | shift-clip)");
  expect_one_line_error(
      run_command(lowbit(tmp / "none.pt", out, "--mode float-scale --bits 3 --steps median"), tmp.str()),
      "unknown step rule 'median'");
  expect_one_line_error(
      run_command(lowbit(tmp / "none.pt", out, "--mode float-scale --bits 3 --granularity row"), tmp.str()),
      "unknown granularity 'row'");
  // A file that is not a checkpoint, and a config that does not exist: the error names the file.
  std::ofstream(tmp / "garbage.pt") << "not a checkpoint";
  expect_one_line_error(run_command(lowbit(tmp / "garbage.pt", out, "--mode shift-clip --bits 3"), tmp.str()),
                        tmp / "garbage.pt");
  expect_one_line_error(run_command(kFxnn + " lowbit --checkpoint " + (tmp / "garbage.pt") + " --config " +
                                        (tmp / "none.yaml") + " --out " + out + " --mode shift-clip --bits 3",
                                    tmp.str()),
                        tmp / "none.yaml");
  EXPECT_FALSE(fs::exists(out));
}

TEST(LowbitBench, NarrowKernelsAgreeWithTheWideOnes) {
  // One call per kernel on 2 images: the JSON lists every shape, and the 16-bit and 32-bit outputs agree.
  const auto r = run_command(kFxnn + " bench narrow --bits 2 --batch 2 --steps 1 --warmup 0", ".");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.at("results").size(), 4u);
  for (const auto& shape : j.at("results")) {
    ASSERT_TRUE(shape.at("narrow").get<bool>()) << shape.dump(); // 2 bits: every shape's bound fits 16 bits
    EXPECT_TRUE(shape.at("outputs_equal").get<bool>()) << shape.dump();
    EXPECT_GT(shape.at("narrow_over_wide_portable").get<double>(), 0.0);
  }
}

TEST_F(LowbitCli, OutNeverReplacesARunBeforeAnyConversion) {
  TempDir tmp;
  const std::string run = tmp / "fl";
  ASSERT_EQ(run_command(kFxnn + " train --config " + kConfig + " --out " + run + kTiny, tmp.str()).exit_code, 0);
  const auto r = run_command(lowbit(run + "/checkpoint.pt", run, "--mode shift-clip --bits 3 --force"), tmp.str());
  expect_one_line_error(r, run + ": not a fixed-point network folder written by fxnn (it holds ");
  EXPECT_TRUE(fs::exists(run + "/checkpoint.pt"));
}

TEST_F(LowbitCli, AFixedPointRunIsRefused) {
  TempDir tmp;
  std::ofstream(tmp / "plan.yaml")
      << "defaults:\n  W: s8.7\n  A: u8.7\n  GW: s12.auto\n  GA: s12.auto\n  acc: s20.19\n";
  auto r = run_command(
      kFxnn + " train --config " + kConfig + " --precision " + (tmp / "plan.yaml") + " --out " + (tmp / "fx") + kTiny,
      tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // In its run directory (plan.yaml beside it) and copied out of it (its optimizer state tells).
  expect_one_line_error(
      run_command(lowbit(tmp / "fx/checkpoint.pt", tmp / "out", "--mode shift-clip --bits 3"), tmp.str()),
      "trained with the precision plan");
  fs::create_directories(tmp / "copy");
  fs::copy_file(tmp / "fx/checkpoint.pt", tmp / "copy/checkpoint.pt");
  fs::copy_file(tmp / "fx/config.yaml", tmp / "copy/config.yaml");
  expect_one_line_error(
      run_command(lowbit(tmp / "copy/checkpoint.pt", tmp / "out", "--mode shift-clip --bits 3"), tmp.str()),
      "trained in fixed point");
  EXPECT_FALSE(fs::exists(tmp / "out"));
}

TEST_F(LowbitCli, AFloatRunConvertsAndInferChecksIt) {
  TempDir tmp;
  auto r = run_command(kFxnn + " train --config " + kConfig + " --out " + (tmp / "fl") + kTiny, tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(lowbit(tmp / "fl/checkpoint.pt", tmp / "model",
                         "--mode shift-clip --bits 3 --calib 200 --json " + (tmp / "r.json")),
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("float model (LibTorch):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("low-bit network (integer runtime): accuracy"), std::string::npos) << r.out;
  // The run's config keeps 200 test samples: 2000 logits.
  EXPECT_NE(r.out.find("0 prediction mismatches, 0 of 2000 output codes differ"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no floating-point operation"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(tmp / "model/model.json"));
  EXPECT_TRUE(fs::exists(tmp / "r.json"));
  r = run_command(kFxnn + " infer --model " + (tmp / "model") + " --config " + kConfig + " --check --quiet --limit 300",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 prediction mismatches"), std::string::npos) << r.out;
  r = run_command(lowbit(tmp / "fl/checkpoint.pt", tmp / "fs", "--mode float-scale --bits 2 --calib 200 --limit 300"),
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("24 significant bits"), std::string::npos) << r.out;
}

TEST_F(LowbitCli, FinetuneTrainsOnTheGridsThenConverts) {
  TempDir tmp;
  auto r = run_command(kFxnn + " train --config " + kConfig + " --out " + (tmp / "fl") + kTiny, tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string finetune =
      lowbit(tmp / "fl/checkpoint.pt", tmp / "ft", "--mode shift-clip --bits 3 --calib 200 --finetune 1");
  r = run_command(finetune + " --json " + (tmp / "ft.json"), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fine-tuned for 1 epoch(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("correction none"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 prediction mismatches"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(tmp / "ft.finetune/plan.yaml"));
  const auto j = nlohmann::json::parse(std::ifstream(tmp / "ft.json"));
  EXPECT_EQ(j.at("finetune").at("metrics").size(), 1u);
  // Resumed: the run is complete, nothing is trained again, the same network comes out.
  r = run_command(finetune + " --resume --force --json " + (tmp / "again.json"), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(tmp / "again.json")).at("accuracy"), j.at("accuracy"));
  expect_one_line_error(run_command(lowbit(tmp / "fl/checkpoint.pt", tmp / "refused",
                                           "--mode shift-clip --bits 3 --finetune 1 --granularity channel"),
                                    tmp.str()),
                        "--granularity layer");
  EXPECT_FALSE(fs::exists(tmp / "refused"));
}

/// A float MLP for 28x28 images as ONNX: Flatten -> Gemm 16 (transB) -> Relu -> Gemm 10, random weights;
/// `extra_op` (when given) is appended to the logits.
std::string mlp_onnx(const std::string& extra_op = "") {
  testing_support::OnnxBuilder b(13, {-1, 1, 28, 28});
  std::vector<float> w1(16 * 784), w2(10 * 16);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = static_cast<float>(((i * 7919) % 23) - 11) / 40.0f;
  for (size_t i = 0; i < w2.size(); ++i) w2[i] = static_cast<float>(((i * 104729) % 17) - 8) / 8.0f;
  b.constant("w1", {16, 784}, w1, true);
  b.constant("b1", {16}, std::vector<float>(16, 0.1f), true);
  b.constant("w2", {10, 16}, w2, true);
  b.node("Flatten", {"x"}, "f", "flatten");
  testing_support::OnnxBuilder::attr(b.node("Gemm", {"f", "w1", "b1"}, "h", "fc1"), "transB", int64_t{1});
  b.node("Relu", {"h"}, "r", "relu1");
  testing_support::OnnxBuilder::attr(b.node("Gemm", {"r", "w2"}, "y", "fc2"), "transB", int64_t{1});
  if (extra_op.empty()) return b.bytes("y");
  b.node(extra_op, {"y"}, "z", "extra");
  return b.bytes("z");
}

TEST_F(LowbitCli, AFloatOnnxNetworkConverts) {
  TempDir tmp;
  std::ofstream(tmp / "mlp.onnx", std::ios::binary) << mlp_onnx();
  const std::string base = kFxnn + " lowbit --onnx " + (tmp / "mlp.onnx") + " --config " + kConfig +
                           " --quiet --mode shift-clip --bits 3 --calib 200 --limit 300 ";
  auto r = run_command(base + "--out " + (tmp / "model") + " --json " + (tmp / "r.json"), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("float model (LibTorch):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 prediction mismatches, 0 of 3000 output codes differ"), std::string::npos) << r.out;
  const auto j = nlohmann::json::parse(std::ifstream(tmp / "r.json"));
  EXPECT_EQ(j.at("onnx"), tmp / "mlp.onnx");
  EXPECT_EQ(j.at("samples"), 300);
  // One line naming the node, and nothing written.
  std::ofstream(tmp / "sigmoid.onnx", std::ios::binary) << mlp_onnx("Sigmoid");
  r = run_command(kFxnn + " lowbit --onnx " + (tmp / "sigmoid.onnx") + " --config " + kConfig +
                      " --mode shift-clip --bits 3 --out " + (tmp / "refused"),
                  tmp.str());
  expect_one_line_error(r, "unsupported ONNX operator 'Sigmoid' (node 'extra')");
  EXPECT_FALSE(fs::exists(tmp / "refused"));
  expect_one_line_error(run_command(base + "--checkpoint " + (tmp / "x.pt") + " --out " + (tmp / "refused"), tmp.str()),
                        "excludes");
  expect_one_line_error(
      run_command(kFxnn + " lowbit --config " + kConfig + " --mode shift-clip --bits 3 --out " + (tmp / "refused"),
                  tmp.str()),
      "give either --checkpoint");
  EXPECT_FALSE(fs::exists(tmp / "refused"));
}

} // namespace
} // namespace fxnn
