// Data-parallel training: the micro-batch step, processes on 127.0.0.1, a lost rank, resuming.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../support/child_process.h"
#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/data_parallel_step.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

using testing_support::run_command;
using testing_support::slurp;
using testing_support::TempDir;
namespace fs = std::filesystem;

using testing_support::have_fashion_mnist;
const std::string& kFxnn = testing_support::kFxnnBinary;
const std::string& kSource = testing_support::kSourceDir;

/// A small FX run: MLP 784-32-10, 600 images, batches of 100 in K = 2 micro-batches, one thread.
std::string train_args(const std::string& out, bool fixed_point, int epochs = 1, int images = 600) {
  return "train --config " + kSource + "/configs/fashion_mnist_mlp.yaml" +
         (fixed_point ? " --precision " + kSource + "/configs/plans/uniform8.yaml" : std::string()) +
         " --set data.train_limit=" + std::to_string(images) +
         " --set data.test_limit=200 --set model.hidden=[32] --set model.dropout=0.2 --set train.batch_size=100"
         " --set train.micro_batches=2 --set train.epochs=" +
         std::to_string(epochs) + " --threads 1 --quiet --out " + out;
}

std::vector<torch::Tensor> state_of(const std::string& dir) {
  const auto config = ExperimentConfig::load(dir + "/config.yaml");
  std::optional<PrecisionPlan> plan;
  if (fs::exists(dir + "/plan.yaml")) plan = PrecisionPlan::load(dir + "/plan.yaml");
  auto net = build_network(config, plan);
  load_network_weights(dir + "/checkpoint.pt", *net);
  std::vector<torch::Tensor> tensors;
  for (const auto& p : net->parameters()) tensors.push_back(p.detach().clone());
  for (const auto& b : net->buffers()) tensors.push_back(b.clone());
  return tensors;
}

/// Largest absolute difference between the weights and buffers of two runs (0: bitwise identical).
double max_difference(const std::string& a, const std::string& b) {
  const auto x = state_of(a), y = state_of(b);
  EXPECT_EQ(x.size(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (torch::equal(x[i], y[i])) continue;
    worst = std::max(worst, (x[i].to(torch::kDouble) - y[i].to(torch::kDouble)).abs().max().item<double>());
    if (worst == 0) worst = 1e-300; // differing bit patterns with equal values (-0 vs 0)
  }
  return worst;
}

TEST(DataParallelStep, OneMicroBatchInOneProcessIsThePlainStep) {
  auto config = ExperimentConfig::parse("", "c.yaml", {"model.width=0.25"});
  const auto plan =
      PrecisionPlan::parse("defaults: {W: s8.7, A: u8.7, GW: s12.auto, GA: s12.auto, acc: s20.19}\n", "p.yaml");
  auto a = build_network(config, plan), b = build_network(config, plan);
  auto opt_a = build_optimizer(config, *a), opt_b = build_optimizer(config, *b);
  Communicator single{DistributedOptions{}};
  DataParallelStep step(*b, *opt_b, single, 1, config.seed);
  torch::manual_seed(9);
  for (int s = 0; s < 3; ++s) {
    data::Batch batch{torch::randn({16, 1, 28, 28}), torch::randint(0, 10, {16}, torch::kLong)};
    train_step(*a, *opt_a, batch);
    step.run(batch, 1, s);
  }
  for (size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i])) << i;
  for (size_t i = 0; i < a->buffers().size(); ++i) EXPECT_TRUE(torch::equal(a->buffers()[i], b->buffers()[i])) << i;
}

TEST(Distributed, TwoProcessesComputeBitwiseTheSameFixedPointRunAsOne) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  ASSERT_EQ(run_command(kFxnn + " " + train_args(tmp / "one", true), tmp.str()).exit_code, 0);
  const auto two = run_command(kFxnn + " launch --nproc 2 -- fxnn " + train_args(tmp / "two", true), tmp.str());
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_EQ(max_difference(tmp / "one", tmp / "two"), 0.0);
  // Only rank 0 writes: one metrics line for the one epoch.
  EXPECT_EQ(testing_support::count_lines(slurp(tmp / "two/metrics.jsonl")), 1);
}

TEST(Distributed, FloatRunsDifferOnlyByRounding) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  // K = 4: each rank adds two micro-batch gradients before the float all-reduce, so the order of the
  // float additions differs from one process's.
  const std::string k4 = " --set train.micro_batches=4";
  ASSERT_EQ(run_command(kFxnn + " " + train_args(tmp / "one", false) + k4, tmp.str()).exit_code, 0);
  ASSERT_EQ(
      run_command(kFxnn + " launch --nproc 2 -- fxnn " + train_args(tmp / "two", false) + k4, tmp.str()).exit_code, 0);
  const double difference = max_difference(tmp / "one", tmp / "two");
  std::printf("float run, 1 vs 2 processes (K = 4): max |weight difference| = %g\n", difference);
  RecordProperty("float_max_difference", std::to_string(difference));
  EXPECT_LT(difference, 1e-4); // different rounding, not a different computation
}

TEST(Distributed, LostRankStopsTheOthersAndTheRunResumes) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  const std::string args = train_args(tmp / "run", true, /*epochs=*/4, /*images=*/20000);
  const std::string master = "127.0.0.1:" + std::to_string(20000 + getpid() % 20000);
  auto start_rank = [&](int rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      const std::string command = "exec " + kFxnn + " " + args + " --world-size 2 --rank " + std::to_string(rank) +
                                  " --master " + master + " --timeout 30 2>" +
                                  tmp / ("rank" + std::to_string(rank) + ".err");
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  };
  const pid_t rank0 = start_rank(0), rank1 = start_rank(1);
  // Kill rank 1 once the first epoch is checkpointed.
  for (int i = 0; i < 600 && !fs::exists(tmp / "run/checkpoint.pt"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(tmp / "run/checkpoint.pt"));
  kill(rank1, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(rank0, &status, 0);
  waitpid(rank1, nullptr, 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
  const std::string err = slurp(tmp / "rank0.err");
  EXPECT_NE(err.find("lost rank 1"), std::string::npos) << err;
  EXPECT_LT(seconds, 30.0) << "rank 0 took too long to notice";
  // Resume with two processes, then compare with one uninterrupted process.
  const auto resumed = run_command(kFxnn + " launch --nproc 2 -- fxnn " + args + " --resume", tmp.str());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  ASSERT_EQ(run_command(kFxnn + " " + train_args(tmp / "straight", true, 4, 20000), tmp.str()).exit_code, 0);
  EXPECT_EQ(max_difference(tmp / "run", tmp / "straight"), 0.0);
}

/// The ranks a launcher started (its children).
std::vector<pid_t> children_of(pid_t launcher) {
  std::vector<pid_t> pids;
  std::ifstream in("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
  for (pid_t pid; in >> pid;) pids.push_back(pid);
  return pids;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

/// A two-rank launch that trains long enough to be frozen or killed in the middle; ready once the first
/// epoch is written (both ranks are then in their collectives).
class FrozenRanks : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    launcher_ = std::make_unique<testing_support::ChildProcess>(
        std::vector<std::string>{kFxnn,
                                 "launch",
                                 "--nproc",
                                 "2",
                                 "--grace",
                                 "2",
                                 "--",
                                 "fxnn",
                                 "train",
                                 "--config",
                                 kSource + "/configs/fashion_mnist_mlp.yaml",
                                 "--set",
                                 "data.train_limit=2000",
                                 "--set",
                                 "data.test_limit=100",
                                 "--set",
                                 "model.hidden=[32]",
                                 "--set",
                                 "train.batch_size=100",
                                 "--set",
                                 "train.micro_batches=2",
                                 "--set",
                                 "train.epochs=1000",
                                 "--threads",
                                 "1",
                                 "--quiet",
                                 "--timeout",
                                 "5",
                                 "--out",
                                 tmp_ / "run"},
        tmp_ / "launch.log");
    for (int i = 0; i < 1200 && !fs::exists(tmp_ / "run/checkpoint.pt"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(fs::exists(tmp_ / "run/checkpoint.pt")) << launcher_->output();
    ranks_ = children_of(launcher_->pid());
    ASSERT_EQ(ranks_.size(), 2u);
  }
  /// Seconds until the launcher exits (it must, with an error), and every rank is gone by then.
  double seconds_to_stop() {
    const auto start = std::chrono::steady_clock::now();
    const int code = launcher_->wait(std::chrono::seconds(120));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_NE(code, 0) << launcher_->output();
    for (pid_t rank : ranks_) EXPECT_FALSE(alive(rank)) << "rank pid " << rank << " still runs";
    return seconds;
  }
  TempDir tmp_;
  std::unique_ptr<testing_support::ChildProcess> launcher_;
  std::vector<pid_t> ranks_;
};

// Budget: the collective's timeout (5 s), the failure path's bounded look at the heartbeats (5 s), the
// launcher's grace (2 s) and its SIGTERM-to-SIGKILL delay (5 s), and slack for a loaded machine.
constexpr double kStopBudgetSeconds = 45;

TEST_F(FrozenRanks, AFrozenRankZeroStopsTheRunWithinItsTimeouts) {
  ::kill(ranks_[0], SIGSTOP); // the rank that holds the store
  EXPECT_LT(seconds_to_stop(), kStopBudgetSeconds) << launcher_->output();
}

TEST_F(FrozenRanks, AFrozenRankOneStopsTheRunWithinItsTimeouts) {
  ::kill(ranks_[1], SIGSTOP);
  EXPECT_LT(seconds_to_stop(), kStopBudgetSeconds) << launcher_->output();
  EXPECT_NE(launcher_->output().find("lost rank 1"), std::string::npos) << launcher_->output();
}

TEST_F(FrozenRanks, KillingTheLauncherTakesItsRanksDown) {
  launcher_->kill_now();
  for (int i = 0; i < 50 && (alive(ranks_[0]) || alive(ranks_[1])); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Reaped by init once orphaned; a zombie would still answer kill(pid, 0), so look at its state.
  for (pid_t rank : ranks_) {
    std::ifstream stat("/proc/" + std::to_string(rank) + "/stat");
    std::string pid, name, state;
    if (stat >> pid >> name >> state) EXPECT_EQ(state, "Z") << "rank pid " << rank << " still runs";
  }
}

} // namespace
} // namespace fxnn
