// Crash safety of training runs through the command line: a fixed-point run is killed with SIGKILL
// at several points (in the middle of epochs, and while an epoch's metrics and checkpoint are
// written), every file of its run directory must parse completely after each kill, and --resume
// must end with the weights of an uninterrupted run, bit for bit.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "../support/child_process.h"
#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/metrics.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

namespace fs = std::filesystem;
using testing_support::ChildProcess;
using testing_support::kFxnnBinary;
using testing_support::TempDir;

constexpr auto kRunTimeout = std::chrono::seconds(900);

// 3000 images in batches of 50: 60 steps per epoch, long enough to be caught in the middle of one.
// Dropout and momentum: the random streams and the optimizer state must both survive the resume.
constexpr char kConfig[] =
    "name: crash_safety\nseed: 11\n"
    "data: {train_limit: 3000, test_limit: 500}\n"
    "model: {arch: mlp, hidden: [64], dropout: 0.25}\n"
    "train: {epochs: 3, batch_size: 50}\n"
    "optim: {lr: 0.1, momentum: 0.9}\n";
constexpr char kPlan[] =
    "defaults:\n  W: s8.7\n  A: u8.7\n  GW: s12.auto\n  GA: {format: s12.auto, rounding: stochastic}\n  acc: s20.19\n";

struct RunFiles {
  std::string config, plan;
};

std::vector<std::string> train_command(const RunFiles& files, const std::string& out, bool resume) {
  std::vector<std::string> argv{kFxnnBinary, "train", "--config", files.config, "--precision",
                                files.plan,  "--out", out,        "--threads",  "2"};
  if (resume) argv.push_back("--resume");
  return argv;
}

/// The progress lines "epoch E/3 k/T ..." of the log (stderr, one per tenth of an epoch, and the
/// final one with k = T): whether one shows epoch `epoch` with 0 < k < T (`under_way`) or k = T.
bool progress_shows(const std::string& log, int epoch, bool under_way) {
  const std::regex line("epoch " + std::to_string(epoch) + "/3 ([0-9]+)/([0-9]+) ");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    const int done = std::stoi((*it)[1]), total = std::stoi((*it)[2]);
    if (under_way ? (done > 0 && done < total) : done == total) return true;
  }
  return false;
}

struct DirectoryState {
  int64_t checkpoint_epoch = 0; // 0: no checkpoint yet
  size_t metric_lines = 0;
  std::vector<std::string> temporaries; // NAME.tmp.<pid of the killed run>
};

/// Reads every file of the run directory completely, as a resumed run or a user would; a file that
/// is cut short or not of its kind fails the test. Only the killed run's temporary files may be
/// left besides the four files of a run directory.
DirectoryState check_every_file_parses(const std::string& dir, pid_t killed) {
  DirectoryState state;
  if (!fs::exists(dir)) return state; // killed before it wrote anything
  const auto config = ExperimentConfig::load(dir + "/config.yaml");
  const auto plan = PrecisionPlan::load(dir + "/plan.yaml");
  const auto metrics = read_metrics(dir + "/metrics.jsonl");
  state.metric_lines = metrics.size();
  for (size_t i = 0; i < metrics.size(); ++i) EXPECT_EQ(metrics[i].epoch, static_cast<int64_t>(i + 1)) << dir;
  if (fs::exists(dir + "/checkpoint.pt")) {
    auto network = build_network(config, plan);
    state.checkpoint_epoch = load_network_weights(dir + "/checkpoint.pt", *network);
  }
  // The metrics are written before the checkpoint: they hold its epoch, or one more.
  EXPECT_TRUE(state.metric_lines == static_cast<size_t>(state.checkpoint_epoch) ||
              state.metric_lines == static_cast<size_t>(state.checkpoint_epoch) + 1)
      << state.metric_lines << " metric lines, checkpoint of epoch " << state.checkpoint_epoch;
  const std::string killed_suffix = ".tmp." + std::to_string(killed);
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "config.yaml" || name == "plan.yaml" || name == "metrics.jsonl" || name == "checkpoint.pt" ||
        name == ".lock")
      continue;
    const bool killed_writer =
        name.size() > killed_suffix.size() &&
        name.compare(name.size() - killed_suffix.size(), killed_suffix.size(), killed_suffix) == 0;
    EXPECT_TRUE(killed_writer) << "unexpected file " << name << " in " << dir;
    state.temporaries.push_back(name);
  }
  return state;
}

TEST(CrashSafety, KilledFixedPointRunResumesToTheUninterruptedWeightsBitForBit) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  const RunFiles files{tmp / "config.yaml", tmp / "plan.yaml"};
  write_file_atomic(files.config, kConfig);
  write_file_atomic(files.plan, kPlan);

  ChildProcess straight(train_command(files, tmp / "straight", false), tmp / "straight.log");
  ASSERT_EQ(straight.wait(kRunTimeout), 0) << straight.output();

  struct KillPoint {
    std::string what;
    std::function<bool(const std::string&)> reached;
    int64_t checkpoint_at_least; // the checkpoint epoch the directory must hold after the kill
  };
  const std::vector<KillPoint> points{
      {"in the middle of epoch 1, before any checkpoint", [](const auto& log) { return progress_shows(log, 1, true); },
       0},
      {"in the middle of epoch 2", [](const auto& log) { return progress_shows(log, 2, true); }, 1},
      {"as epoch 2 ends, while its metrics and checkpoint are written",
       [](const auto& log) { return progress_shows(log, 2, false); }, 1},
      {"in the middle of epoch 3", [](const auto& log) { return progress_shows(log, 3, true); }, 2},
  };
  const std::string run = tmp / "killed";
  std::vector<std::string> left_behind;
  for (size_t k = 0; k < points.size(); ++k) {
    ChildProcess child(train_command(files, run, k > 0), tmp / ("killed_" + std::to_string(k) + ".log"));
    ASSERT_TRUE(child.wait_for_output(points[k].reached, kRunTimeout)) << "never reached: " << points[k].what << "\n"
                                                                       << child.output();
    ASSERT_TRUE(child.kill_now()) << "the run ended before the kill " << points[k].what;
    const DirectoryState state = check_every_file_parses(run, child.pid());
    std::printf("killed %s: checkpoint of epoch %lld, %zu metric lines, %zu unfinished writes\n",
                points[k].what.c_str(), static_cast<long long>(state.checkpoint_epoch), state.metric_lines,
                state.temporaries.size());
    EXPECT_GE(state.checkpoint_epoch, points[k].checkpoint_at_least) << points[k].what;
    if (k == 0) EXPECT_EQ(state.checkpoint_epoch, 0) << points[k].what;
    left_behind.insert(left_behind.end(), state.temporaries.begin(), state.temporaries.end());
  }
  ChildProcess last(train_command(files, run, true), tmp / "killed_last.log");
  ASSERT_EQ(last.wait(kRunTimeout), 0) << last.output();
  EXPECT_EQ(check_every_file_parses(run, last.pid()).checkpoint_epoch, 3);
  for (const auto& entry : fs::directory_iterator(run))
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
        << "left behind after the resume: " << entry.path();
  if (!left_behind.empty()) std::printf("killed writes removed on resume: %zu\n", left_behind.size());

  const auto inspect =
      testing_support::run_command(kFxnnBinary + " inspect --run " + tmp / "straight" + " --against " + run, tmp.str());
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("bitwise identical"), std::string::npos) << inspect.out;
  const auto a = read_metrics(tmp / "straight/metrics.jsonl"), b = read_metrics(run + "/metrics.jsonl");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e].train_loss, b[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].test_acc, b[e].test_acc) << "epoch " << e + 1;
  }
}

TEST(CrashSafety, StaleTemporaryFilesOfDeadWritersAreRemoved) {
  TempDir tmp;
  // A pid that is not running: a child that has exited and been reaped.
  ChildProcess done({"/bin/true"}, tmp / "true.log");
  ASSERT_EQ(done.wait(std::chrono::seconds(30)), 0);
  const std::string dead = tmp / ("checkpoint.pt.tmp." + std::to_string(done.pid()));
  const std::string alive = tmp / ("metrics.jsonl.tmp." + std::to_string(::getpid()));
  write_file_atomic(dead, "half a checkpoint");
  write_file_atomic(alive, "being written");
  write_file_atomic(tmp / "notes.tmp.txt", "not a temporary name");
  const auto removed = remove_stale_temporaries(tmp.str());
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], fs::path(dead).filename().string());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(tmp / "notes.tmp.txt"));
}

} // namespace
} // namespace fxnn
