// What a run directory must hold for --resume to continue it, and the one writer per directory
// (docs/crash-safety.md): every case here trained the wrong network, lost history or mixed two runs
// before these checks.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../support/error_message.h"
#include "../support/fixtures.h"
#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

using testing_support::error_message;
using testing_support::TempDir;
namespace fs = std::filesystem;

ExperimentConfig mlp_config(int64_t hidden, int64_t epochs = 2) {
  return ExperimentConfig::parse(
      "name: resume\nseed: 5\n", "resume.yaml",
      {"data.train_limit=200", "data.test_limit=100", "model.arch=mlp", "model.hidden=[" + std::to_string(hidden) + "]",
       "train.batch_size=50", "train.epochs=" + std::to_string(epochs)});
}

PrecisionPlan uniform_plan() {
  return PrecisionPlan::parse("defaults: {W: s8.7, A: u8.7, GW: s12.auto, GA: s12.auto, acc: s20.19}\n", "p.yaml");
}

TrainerOptions options(const ExperimentConfig& config, const std::string& dir, std::optional<PrecisionPlan> plan,
                       bool resume) {
  TrainerOptions o;
  o.config = config;
  o.out_dir = dir;
  o.plan = std::move(plan);
  o.resume = resume;
  o.quiet = true;
  return o;
}

/// A finished run of `epochs` epochs in `dir`.
void train(const ExperimentConfig& config, const std::string& dir, std::optional<PrecisionPlan> plan = std::nullopt) {
  Trainer(options(config, dir, std::move(plan), false)).run();
}

std::string resume_error(const ExperimentConfig& config, const std::string& dir,
                         std::optional<PrecisionPlan> plan = std::nullopt) {
  return error_message([&] { Trainer(options(config, dir, std::move(plan), true)).run(); });
}

class ResumeChecks : public testing::Test {
 protected:
  void SetUp() override {
    if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
  TempDir tmp;
};

TEST_F(ResumeChecks, ACheckpointOfANarrowerNetworkIsRefusedBeforeAnythingIsWritten) {
  const std::string narrow = tmp / "narrow", wide = tmp / "wide";
  train(mlp_config(16, 1), narrow);
  train(mlp_config(32, 1), wide);
  fs::copy_file(narrow + "/checkpoint.pt", wide + "/checkpoint.pt", fs::copy_options::overwrite_existing);
  const auto before = fs::last_write_time(wide + "/checkpoint.pt");
  const std::string message = resume_error(mlp_config(32), wide);
  EXPECT_NE(message.find(wide + "/checkpoint.pt: not a checkpoint of this run's network: "), std::string::npos)
      << message;
  EXPECT_NE(message.find("has shape [16, 784], the config's network [32, 784]"), std::string::npos) << message;
  EXPECT_EQ(fs::last_write_time(wide + "/checkpoint.pt"), before);
}

TEST_F(ResumeChecks, AFloatCheckpointInAFixedPointRunIsRefused) {
  const std::string fl = tmp / "fl", fx = tmp / "fx";
  train(mlp_config(16, 1), fl);
  train(mlp_config(16, 1), fx, uniform_plan());
  fs::copy_file(fl + "/checkpoint.pt", fx + "/checkpoint.pt", fs::copy_options::overwrite_existing);
  const std::string message = resume_error(mlp_config(16), fx, uniform_plan());
  EXPECT_NE(message.find(fx + "/checkpoint.pt: "), std::string::npos) << message;
  EXPECT_NE(message.find("float run's checkpoint in a fixed-point run"), std::string::npos) << message;
}

TEST_F(ResumeChecks, ACheckpointOfAnotherRunWithTheSameShapesIsRefused) {
  const std::string a = tmp / "a", b = tmp / "b";
  train(mlp_config(16, 1), a);
  auto other = mlp_config(16, 1);
  other.optim.lr = 0.01;
  train(other, b);
  fs::copy_file(b + "/checkpoint.pt", a + "/checkpoint.pt", fs::copy_options::overwrite_existing);
  const std::string message = resume_error(mlp_config(16), a);
  EXPECT_NE(message.find(a + "/checkpoint.pt: written by a run with another config"), std::string::npos) << message;
}

/// Rewrites the checkpoint of `dir` as if its epoch were `epoch` (with a valid checksum: what a tool
/// that edits checkpoints would leave).
void rewrite_epoch(const ExperimentConfig& config, const std::string& dir, int64_t epoch) {
  auto network = build_network(config, std::nullopt);
  auto optimizer = build_optimizer(config, *network);
  load_checkpoint(dir + "/checkpoint.pt", *network, *optimizer);
  save_checkpoint(dir + "/checkpoint.pt", epoch, *network, *optimizer, run_identity(config, std::nullopt));
}

TEST_F(ResumeChecks, TheCheckpointsEpochMustAgreeWithTheMetrics) {
  const std::string dir = tmp / "run";
  train(mlp_config(16, 2), dir);
  const std::string metrics = read_file(dir + "/metrics.jsonl");

  rewrite_epoch(mlp_config(16), dir, 99);
  std::string message = resume_error(mlp_config(16, 3), dir);
  EXPECT_NE(message.find(dir + "/metrics.jsonl: holds epochs 1..2 but checkpoint.pt is at epoch 99"), std::string::npos)
      << message;
  EXPECT_EQ(read_file(dir + "/metrics.jsonl"), metrics); // the history is untouched

  rewrite_epoch(mlp_config(16), dir, -5);
  message = resume_error(mlp_config(16, 3), dir);
  EXPECT_NE(message.find(dir + "/checkpoint.pt: epoch -5 is not a finished epoch"), std::string::npos) << message;
  EXPECT_EQ(read_file(dir + "/metrics.jsonl"), metrics);
}

TEST_F(ResumeChecks, MissingEmptyOrDisorderedMetricsAreErrorsNotAFreshStart) {
  const std::string dir = tmp / "run";
  train(mlp_config(16, 2), dir);
  const std::string metrics = read_file(dir + "/metrics.jsonl");
  const auto lines_of = [](const std::string& text) {
    std::vector<std::string> lines;
    std::string line;
    std::istringstream in(text);
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  };
  const auto lines = lines_of(metrics);
  ASSERT_EQ(lines.size(), 2u);

  write_file_atomic(dir + "/metrics.jsonl", "");
  EXPECT_NE(resume_error(mlp_config(16, 3), dir).find("metrics.jsonl: holds no epoch but checkpoint.pt is at epoch 2"),
            std::string::npos);
  write_file_atomic(dir + "/metrics.jsonl", lines[1] + "\n" + lines[0] + "\n");
  EXPECT_NE(resume_error(mlp_config(16, 3), dir).find("metrics.jsonl: line 1 is epoch 2, expected 1"),
            std::string::npos);
  write_file_atomic(dir + "/metrics.jsonl", lines[0] + "\n" + lines[0] + "\n");
  EXPECT_NE(resume_error(mlp_config(16, 3), dir).find("metrics.jsonl: line 2 is epoch 1, expected 2"),
            std::string::npos);
  write_file_atomic(dir + "/metrics.jsonl", lines[0] + "\n{\"epoch\": 2, \"lr\n");
  EXPECT_NE(resume_error(mlp_config(16, 3), dir).find("metrics.jsonl: line 2"), std::string::npos);
  fs::remove(dir + "/metrics.jsonl");
  EXPECT_NE(resume_error(mlp_config(16, 3), dir).find("metrics.jsonl: missing, but checkpoint.pt is at epoch 2"),
            std::string::npos);
  // Restored, the run continues.
  write_file_atomic(dir + "/metrics.jsonl", metrics);
  const auto history = Trainer(options(mlp_config(16, 3), dir, std::nullopt, true)).run();
  EXPECT_EQ(history.size(), 3u);
}

TEST_F(ResumeChecks, FlippedBytesInTheCheckpointAreCaught) {
  const std::string dir = tmp / "run";
  train(mlp_config(16, 1), dir);
  std::string bytes = read_file(dir + "/checkpoint.pt");
  // A byte inside the weights' data: the zip archive stores tensors uncompressed, so this changes one
  // weight without breaking the file's structure.
  auto network = build_network(mlp_config(16), std::nullopt);
  load_network_weights(dir + "/checkpoint.pt", *network);
  const auto weight = network->named_parameters()[0].value().contiguous();
  const std::string needle(static_cast<const char*>(weight.data_ptr()), 64);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 10] = static_cast<char>(bytes[at + 10] ^ 0x10);
  write_file_atomic(dir + "/checkpoint.pt", bytes);
  const std::string message = resume_error(mlp_config(16, 2), dir);
  EXPECT_NE(message.find(dir + "/checkpoint.pt: "), std::string::npos) << message;
  EXPECT_NE(message.find("checksum mismatch"), std::string::npos) << message; // LibTorch's reader does not notice
}

TEST_F(ResumeChecks, ASecondWriterOfARunDirectoryIsRefused) {
  const std::string dir = tmp / "run";
  Trainer first(options(mlp_config(16, 1), dir, std::nullopt, false));
  const std::string message =
      error_message([&] { Trainer second(options(mlp_config(16, 1), dir, std::nullopt, true)); });
  EXPECT_NE(message.find(dir + ": another fxnn process (pid " + std::to_string(::getpid()) + ") is writing this run"),
            std::string::npos)
      << message;
  first.run(); // the first writer is not disturbed
  EXPECT_TRUE(fs::exists(dir + "/checkpoint.pt"));
}

TEST_F(ResumeChecks, AStartKilledBetweenItsIdentityFilesResumes) {
  // An older fxnn wrote config.yaml before plan.yaml; killed between the two, the directory held a
  // fixed-point run's config without its plan and no finished epoch. Nothing of such a run can be
  // lost: --resume starts it (today config.yaml is written last, so a kill leaves a plan without config).
  const std::string dir = tmp / "run";
  fs::create_directories(dir);
  write_file_atomic(dir + "/config.yaml", mlp_config(16, 1).to_yaml());
  write_file_atomic(dir + "/metrics.jsonl", "");
  const auto history = Trainer(options(mlp_config(16, 1), dir, uniform_plan(), true)).run();
  EXPECT_EQ(history.size(), 1u);
  EXPECT_TRUE(fs::exists(dir + "/plan.yaml"));
}

} // namespace
} // namespace fxnn
