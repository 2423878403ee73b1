// `fxnn codegen` as a user runs it: bad input is one line naming the file or value, exit 1 and no
// folder written; folders of other files are never replaced; the C generated from a trained
// fixed-point CNN (fxnn export) and from a 3-bit shift-clip network (fxnn lowbit), compiled with
// UBSan, gives the output codes of `fxnn infer` on 200 test images exactly, with no floating-point
// instruction; the HLS code, compiled with the ap_fixed emulation, gives them too.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "../support/fixtures.h"
#include "../support/float_free.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"

namespace fxnn {
namespace {

using testing_support::CommandResult;
using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const std::string& kFxnn = testing_support::kFxnnBinary;
const std::string kConfigs = testing_support::kSourceDir + "/configs/";

void expect_one_line_error(const CommandResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("fxnn: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

/// A small valid network folder (one dense layer), written without training.
void write_tiny_network(const std::string& dir) {
  ir::Network net;
  net.name = "tiny";
  net.input_shape = {3};
  net.input_format = Format(8, 0, false);
  ir::Node d;
  d.name = "fc";
  d.op = ir::OpKind::kDense;
  d.inputs = {"input"};
  d.output_format = Format(16, 4, true);
  d.output_shape = {2};
  d.weight = ir::IntTensor{{2, 3}, {1, -2, 3, -4, 5, -6}, Format(4, 2, true)};
  d.requantize =
      ir::Requantize{{1}, 0, {3}, 2, Rounding::kNearest, d.output_format.code_min(), d.output_format.code_max()};
  net.nodes = {d};
  net.output = "fc";
  ir::save_network(net, dir);
}

std::string codegen(const std::string& args) { return kFxnn + " codegen " + args; }

TEST(CodegenCli, BadInputIsOneClearLineAndWritesNothing) {
  TempDir tmp;
  const std::string net = tmp / "net", out = tmp / "c";
  write_tiny_network(net);
  // A folder that is not a network, a damaged manifest, bad options.
  expect_one_line_error(run_command(codegen("--model " + tmp / "none --emit-c " + out), tmp.str()), tmp / "none");
  fs::create_directories(tmp / "bad");
  write_file_atomic(tmp / "bad/model.json", "{\"format\": ");
  expect_one_line_error(run_command(codegen("--model " + tmp / "bad --emit-c " + out), tmp.str()), "model.json");
  expect_one_line_error(run_command(codegen("--model " + net + " --emit-c " + out + " --name int"), tmp.str()),
                        "--name: 'int' is not a valid C identifier");
  expect_one_line_error(run_command(codegen("--model " + net + " --name a"), tmp.str()),
                        "give --emit-c DIR, --emit-hls DIR or both");
  expect_one_line_error(run_command(codegen("--model " + net + " --emit-c " + net), tmp.str()),
                        "is the network folder --model");
  EXPECT_FALSE(fs::exists(out));
  // A user's folder: refused with or without --force, left as it was.
  fs::create_directories(tmp / "mine");
  write_file_atomic(tmp / "mine/notes.txt", "keep");
  for (const char* force : {"", " --force"})
    expect_one_line_error(run_command(codegen("--model " + net + " --emit-hls " + tmp / "mine" + force), tmp.str()),
                          tmp / "mine" + ": not a generated code folder written by fxnn (it holds notes.txt)");
  EXPECT_EQ(read_file(tmp / "mine/notes.txt"), "keep");
  // A plain file.
  write_file_atomic(tmp / "file.c", "int x;\n");
  expect_one_line_error(run_command(codegen("--model " + net + " --emit-c " + tmp / "file.c --force"), tmp.str()),
                        tmp / "file.c: exists and is not a folder");
  // Its own folder: written, refused a second time, replaced with --force; C and HLS in one folder.
  auto r = run_command(codegen("--model " + net + " --emit-c " + out + " --emit-hls " + out), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("void tiny(const tiny_input_t *x, tiny_output_t *y)"), std::string::npos)
      << r.out; // the network's name
  for (const char* f : {"tiny.h", "tiny.c", "tiny_hls.h", "tiny_hls.cpp"}) EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  expect_one_line_error(run_command(codegen("--model " + net + " --emit-c " + out + " --name other"), tmp.str()),
                        out + ": holds a generated code folder already; add --force to replace it");
  r = run_command(codegen("--model " + net + " --emit-c " + out + " --name other --force"), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out + "/other.c"));
  EXPECT_FALSE(fs::exists(out + "/tiny.c")); // the folder is replaced as a whole
  for (const auto& e : fs::directory_iterator(tmp.str()))
    EXPECT_EQ(e.path().filename().string().find(".partial."), std::string::npos) << e.path();
}

/// Runs `fxnn infer` on 200 test images, `fxnn codegen`, compiles the C (UBSan) and the HLS code
/// (ap_fixed emulation) and compares their output codes with the runtime's.
void expect_generated_code_equals_runtime(const TempDir& tmp, const std::string& model, const std::string& config) {
  auto r =
      run_command(kFxnn + " infer --model " + model + " --config " + config +
                      " --quiet --threads 1 --limit 200 --save-inputs " + tmp / "x.npy --save-output " + tmp / "y.npy",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(codegen("--model " + model + " --emit-c " + tmp / "c --emit-hls " + tmp / "hls --name net"),
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const io::NpyArray x = io::load_npy(tmp / "x.npy"), y = io::load_npy(tmp / "y.npy");
  ASSERT_EQ(x.shape[0], 200);
  const int64_t n_in = static_cast<int64_t>(x.data.size()) / x.shape[0],
                n_out = static_cast<int64_t>(y.data.size()) / y.shape[0];
  std::ostringstream text;
  for (size_t i = 0; i < x.data.size(); ++i) text << x.data[i] << (static_cast<int64_t>(i + 1) % n_in ? ' ' : '\n');
  write_file_atomic(tmp / "x.txt", text.str());
  const auto compare = [&](const std::string& output, int64_t samples, const std::string& what) {
    std::istringstream in(output);
    std::vector<int64_t> got;
    long long v;
    while (in >> v) got.push_back(v);
    ASSERT_EQ(static_cast<int64_t>(got.size()), samples * n_out) << what;
    int64_t mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != y.data[i];
    EXPECT_EQ(mismatches, 0) << what << ": output codes that differ from fxnn infer's";
  };

  // C99: every code of the 200 images, UBSan clean, no floating-point instruction.
  write_file_atomic(
      tmp / "main.c",
      "#include <stdio.h>\n#include \"net.h\"\n"
      "int main(void) {\n"
      "  static net_input_t x[NET_INPUT_SIZE];\n  static net_output_t y[NET_OUTPUT_SIZE];\n"
      "  long i;\n  for (;;) {\n"
      "    for (i = 0; i < NET_INPUT_SIZE; ++i) {\n"
      "      long long v;\n      if (scanf(\"%lld\", &v) != 1) return 0;\n      x[i] = (net_input_t)v;\n    }\n"
      "    net(x, y);\n"
      "    for (i = 0; i < NET_OUTPUT_SIZE; ++i) printf(\"%lld\\n\", (long long)y[i]);\n  }\n}\n");
  r = run_command("cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -fsanitize=undefined -fno-sanitize-recover=all -I" +
                      tmp / "c -o " + tmp / "main " + tmp / "main.c " + tmp / "c/net.c",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(tmp / "main < " + tmp / "x.txt", tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  compare(r.out, 200, "C");
  EXPECT_TRUE(testing_support::float_words(read_file(tmp / "c/net.c")).empty());
  for (const auto& line : testing_support::float_instructions(tmp / "c/net.c", tmp / "c", {}, tmp.str()))
    ADD_FAILURE() << "floating-point instruction: " << line;

  // HLS: the first 10 images (the emulation is slow; -O0 compiles its large constant tables fastest).
  const ir::Network net = ir::load_network(model);
  const int in_frac = net.input_format.frac, out_frac = net.format_of(net.output).frac;
  std::ostringstream main;
  main << "#include <cmath>\n#include <cstdio>\n#include \"net_hls.h\"\n"
       << "int main() {\n  static net_in_t x[" << n_in << "];\n  static net_out_t y[" << n_out << "];\n"
       << "  for (int k = 0; k < 10; ++k) {\n"
       << "    for (long i = 0; i < " << n_in
       << "; ++i) {\n      long long v;\n      if (std::scanf(\"%lld\", &v) != 1) return 1;\n"
       << "      x[i] = net_in_t(std::ldexp(static_cast<double>(v), " << -in_frac << "));\n    }\n"
       << "    net_hls(x, y);\n"
       << "    for (long i = 0; i < " << n_out
       << "; ++i) std::printf(\"%lld\\n\", static_cast<long long>(std::ldexp(y[i].to_double(), " << out_frac
       << ")));\n  }\n}\n";
  write_file_atomic(tmp / "main.cpp", main.str());
  r = run_command("c++ -std=c++17 -O0 -I" + std::string(FXNN_HLS_EMULATION_DIR) + " -I" + tmp / "hls -o " +
                      tmp / "main_hls " + tmp / "main.cpp " + tmp / "hls/net_hls.cpp",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_command(tmp / "main_hls < " + tmp / "x.txt", tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  compare(r.out, 10, "HLS");
}

class CodegenTrained : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

TEST_F(CodegenTrained, ExportedFixedPointCnnAsCEqualsTheRuntime) {
  TempDir tmp;
  auto r =
      run_command(kFxnn + " train --config " + kConfigs + "fashion_mnist_cnn.yaml --precision " + kConfigs +
                      "plans/uniform8.yaml --out " + tmp / "run" +
                      " --quiet --threads 1 --set train.epochs=1 --set data.train_limit=300 --set data.test_limit=200"
                      " --set model.width=0.25",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(kFxnn + " export --run " + tmp / "run --out " + tmp / "net", tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_generated_code_equals_runtime(tmp, tmp / "net", tmp / "run/config.yaml");
}

TEST_F(CodegenTrained, ThreeBitShiftClipNetworkAsCEqualsTheRuntime) {
  TempDir tmp;
  auto r =
      run_command(kFxnn + " train --config " + kConfigs + "fashion_mnist_mlp.yaml --out " + tmp / "fl" +
                      " --quiet --threads 1 --set train.epochs=1 --set data.train_limit=300 --set data.test_limit=200"
                      " --set model.hidden=[32]",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(kFxnn + " lowbit --checkpoint " + tmp / "fl/checkpoint.pt --config " + tmp / "fl/config.yaml --out " +
                      tmp / "sc3" + " --mode shift-clip --bits 3 --calib 200 --threads 1 --quiet",
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_generated_code_equals_runtime(tmp, tmp / "sc3", tmp / "fl/config.yaml");
}

} // namespace
} // namespace fxnn
