// The command line under a hostile or careless user (docs/crash-safety.md): a full disk, inputs that
// would exhaust memory or threads, and the errors that named the wrong thing. Each is one line on
// stderr, exit status 1, and nothing lost.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/train/metrics.h"

namespace fxnn {
namespace {

using testing_support::CommandResult;
using testing_support::count_lines;
using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const std::string& kFxnn = testing_support::kFxnnBinary;
const std::string kConfig = testing_support::kSourceDir + "/configs/fashion_mnist_mlp.yaml";
const std::string kTiny = " --quiet --threads 1 --set data.train_limit=300 --set data.test_limit=100";

void expect_refused(const CommandResult& r, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("fxnn: error: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

CommandResult train(const TempDir& tmp, const std::string& config, const std::string& extra) {
  return run_command(kFxnn + " train --config " + config + " --out " + tmp / "run" + extra, tmp.str());
}

TEST(HostileInput, AFullDiskIsOneLineNamingTheFileAndTheCauseAndTheLastCheckpointSurvives) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP();
  TempDir tmp;
  const std::string run = tmp / "run";
  ASSERT_EQ(train(tmp, kConfig, kTiny + " --set model.hidden=[64] --set train.epochs=1").exit_code, 0);
  const auto size = fs::file_size(run + "/checkpoint.pt");
  // A file-size limit below the checkpoint's size: its write fails as on a full disk (EFBIG, as ENOSPC).
  const auto r =
      run_command("ulimit -f " + std::to_string(size / 1024 / 2) + "; " + kFxnn + " train --config " + kConfig +
                      " --out " + run + kTiny + " --set model.hidden=[64] --set train.epochs=2 --resume",
                  tmp.str());
  // The run's start is logged first; the error is the one line after it.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(count_lines(r.err), 2) << r.err;
  EXPECT_NE(r.err.find("\nfxnn: error: " + run + "/checkpoint.pt: write failed (File too large)\n"), std::string::npos)
      << r.err;
  // The checkpoint of epoch 1 is intact, no temporary file is left, and the run resumes to its end.
  EXPECT_EQ(fs::file_size(run + "/checkpoint.pt"), size);
  for (const auto& e : fs::directory_iterator(run))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  ASSERT_EQ(train(tmp, kConfig, kTiny + " --set model.hidden=[64] --set train.epochs=2 --resume").exit_code, 0);
  EXPECT_EQ(read_metrics(run + "/metrics.jsonl").size(), 2u);
}

TEST(HostileInput, InputsThatWouldExhaustMemoryOrThreadsAreRefused) {
  TempDir tmp;
  expect_refused(train(tmp, "/dev/zero", ""), "/dev/zero: larger than 1024 KiB, the limit of a config");
  std::string list = "model:\n  hidden: [1";
  for (int i = 0; i < 5000; ++i) list += ", 1";
  std::ofstream(tmp / "list.yaml") << list << "]\n";
  expect_refused(train(tmp, tmp / "list.yaml", ""), "model.hidden: expected at most 4096 entries, got 5001");
  expect_refused(train(tmp, kConfig, " --threads 100000"), "100000 threads: at most ");
  expect_refused(run_command(kFxnn + " launch --nproc 100000 -- fxnn train --config " + kConfig, tmp.str()),
                 "--nproc: 100000 threads: at most ");
  EXPECT_FALSE(fs::exists(tmp / "run/checkpoint.pt"));
}

TEST(HostileInput, ErrorsNameTheKeyAndTheValueAtFault) {
  TempDir tmp;
  expect_refused(train(tmp, kConfig, " --set optim.lr=1e308"), "optim.lr: value 1e+308 must be at most 3.4e38");
  expect_refused(train(tmp, kConfig, " --set train.batch_size=0"), "train.batch_size: value 0 must be >= 1");
  expect_refused(train(tmp, kConfig, " --set seed=-1"), "seed: must be >= 0, got '-1'");
  expect_refused(train(tmp, kConfig, " --set model.hidden=[[1,2]]"),
                 "model.hidden: expected a list of integers, got a list as entry 1");
  // A directory as the config: exit status 1 like every other refusal (CLI11's own code was 105).
  expect_refused(train(tmp, tmp.str(), ""), "--config: File is actually a directory");
  // An empty config.yaml in a run blames the config, not the checkpoint.
  fs::create_directories(tmp / "empty_run");
  std::ofstream(tmp / "empty_run/config.yaml").flush();
  std::ofstream(tmp / "empty_run/checkpoint.pt") << "x";
  expect_refused(run_command(kFxnn + " export --run " + tmp / "empty_run" + " --out " + tmp / "net", tmp.str()),
                 tmp / "empty_run/config.yaml: empty (no settings)");
}

TEST(HostileInput, SubnormalWeightsAreNumbersAndDuplicateBenchmarksAreRefused) {
  TempDir tmp;
  // A 1-input 1-output NNet whose only weight is subnormal (4.9e-324): a number, not "not a finite number".
  std::ofstream(tmp / "tiny.nnet") << "// tiny\n1,1,1,1,\n1,1,\n0,\n-1,\n1,\n0,0,\n1,1,\n4.9e-324,\n0.5,\n";
  const auto r =
      run_command(kFxnn + " synth --model " + tmp / "tiny.nnet" + " --input-box -1:1 --error 1e-3", tmp.str());
  EXPECT_EQ(r.err.find("not a finite number"), std::string::npos) << r.err;
  std::ofstream(tmp / "suite.yaml") << "benchmarks:\n"
                                       "  - {name: a, model: tiny.nnet, input_box: [[-1, 1]], error_bound: 0.001}\n"
                                       "  - {name: a, model: tiny.nnet, input_box: [[-1, 1]], error_bound: 0.5}\n";
  expect_refused(run_command(kFxnn + " synth --benchmarks " + tmp / "suite.yaml" + " --benchmark a", tmp.str()),
                 "benchmarks[1].name: 'a' is already the name of benchmarks[0]");
}

} // namespace
} // namespace fxnn
