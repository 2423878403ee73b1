// The method end to end on a tiny run: probe, assign, fixed-point run, report; then the sweep.

#include <gtest/gtest.h>

#include <filesystem>

#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/precision/assignment.h"
#include "fxnn/precision/pipeline.h"
#include "fxnn/precision/probe.h"
#include "fxnn/precision/probe_stats.h"
#include "fxnn/precision/sweep.h"
#include "fxnn/train/metrics.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

using testing_support::slurp;
using testing_support::TempDir;
namespace fs = std::filesystem;

using testing_support::have_fashion_mnist;

ExperimentConfig tiny_config() {
  return ExperimentConfig::parse("name: tiny\nseed: 3\n", "tiny.yaml",
                                 {"data.train_limit=500", "data.test_limit=200", "model.arch=mlp", "model.hidden=[24]",
                                  "train.batch_size=50", "train.epochs=2", "optim.lr=0.1", "optim.lr_milestones=[2]"});
}

TEST(Pipeline, ProbeAssignTrainReport) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  PipelineOptions options;
  options.config = tiny_config();
  options.out_dir = tmp / "pipe";
  options.config.precision.noise_samples = 40;
  options.config.precision.injection_draws = 8;
  options.quiet = true;
  run_pipeline(options);

  const auto stats = ProbeStats::load(tmp / "pipe/fl/stats.json");
  ASSERT_EQ(stats.layers.size(), 2u);
  EXPECT_EQ(stats.epochs, 2);
  EXPECT_DOUBLE_EQ(stats.lr_min, 0.01); // the milestone at epoch 2 is reached
  const auto& hidden = stats.layers[0];
  EXPECT_EQ(hidden.weight_gradient.sigma.size(), 2u); // one value per epoch
  EXPECT_EQ(hidden.weight_gradient.iterations, 20);   // 10 steps per epoch
  ASSERT_EQ(hidden.ga_paths.size(), 1u);              // fc1.GA -> G^(W) of fc1
  EXPECT_EQ(hidden.ga_paths[0].weight_layer, "fc1");
  EXPECT_EQ(hidden.ga_paths[0].lambda.size(), 2u); // one measurement per epoch
  EXPECT_GT(hidden.ga_paths[0].lambda_max(), 0);
  ASSERT_EQ(stats.layers[1].ga_checks.size(), 2u); // the logits' noise reaches fc2 directly, fc1 through weights
  EXPECT_EQ(stats.layers[1].ga_checks[0].kind, "weights");
  EXPECT_EQ(stats.layers[1].ga_checks[1].kind, "direct");
  EXPECT_GT(*hidden.noise_gain_weight, 0);
  EXPECT_GT(*hidden.noise_gain_activation, 0);
  EXPECT_FALSE(stats.layers[1].noise_gain_activation.has_value()); // the logits are not a feedforward tensor

  EXPECT_EQ(read_metrics(tmp / "pipe/fl/metrics.jsonl").size(), 2u);
  EXPECT_EQ(read_metrics(tmp / "pipe/fx/metrics.jsonl").size(), 2u);
  const auto plan = PrecisionPlan::load(tmp / "pipe/plan.yaml");
  EXPECT_TRUE(plan.resolve("fc1", TensorClass::kActivation).has_value());
  EXPECT_FALSE(plan.resolve("fc2", TensorClass::kActivation).has_value());
  const std::string report = slurp(tmp / "pipe/report.md");
  for (const char* section : {"## Final gap", "## Curves", "## Precision plan", "## Saturation (FX)", "fc1.GA"})
    EXPECT_NE(report.find(section), std::string::npos) << section;

  // Running it again finds every stage done and changes nothing.
  const auto before = fs::last_write_time(tmp / "pipe/fx/checkpoint.pt");
  run_pipeline(options);
  EXPECT_EQ(fs::last_write_time(tmp / "pipe/fx/checkpoint.pt"), before);
}

// A folder that holds a finished plain training run cannot become a probe: its gradient statistics
// were never gathered. The probe says so, and refuses statistics without gradient iterations.
TEST(Pipeline, ProbeRefusesAFinishedRunWithoutStatistics) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  TrainerOptions plain;
  plain.config = tiny_config();
  plain.config.train.epochs = 1;
  plain.out_dir = tmp / "fl";
  plain.quiet = true;
  Trainer(plain).run();
  ProbeOptions probe;
  probe.config = plain.config;
  probe.out_dir = plain.out_dir;
  probe.resume = true;
  probe.quiet = true;
  try {
    run_probe(probe);
    FAIL() << "a finished run without statistics was taken for a probe";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("without probe statistics"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(tmp / "fl/stats.json"));
  ProbeStats empty;
  empty.layers.push_back(LayerStats{});
  empty.layers.back().name = "fc1";
  empty.layers.back().weights = 24 * 784;
  empty.save(tmp / "fl/stats.json");
  try {
    run_probe(probe);
    FAIL() << "statistics without iterations were accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer fc1 has no weight-gradient statistics"), std::string::npos) << e.what();
  }
}

TEST(Sweep, MinusOneTrainsEveryClassNarrowerAndTabulates) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  SweepOptions options;
  options.config = tiny_config();
  options.config.train.epochs = 1;
  options.plan =
      PrecisionPlan::parse("defaults: {W: s8.7, A: u8.7, GW: s12.auto, GA: s12.auto, acc: s20.19}\n", "p.yaml");
  options.out_dir = tmp / "sweep";
  options.quiet = true;
  run_minus_one_sweep(options);
  for (const char* run : {"fl", "fx", "minus1_W", "minus1_A", "minus1_GW", "minus1_GA", "minus1_acc", "minus1_all"})
    EXPECT_EQ(read_metrics(tmp / ("sweep/" + std::string(run) + "/metrics.jsonl")).size(), 1u) << run;
  // The narrowed plans are the ones trained.
  const auto w = PrecisionPlan::load(tmp / "sweep/minus1_W/plan.yaml");
  EXPECT_EQ(w.resolve("fc1", TensorClass::kWeight)->format.str(), "s7.6");
  EXPECT_EQ(w.resolve("fc1", TensorClass::kAccumulator)->format.str(), "s20.19");
  const auto all = PrecisionPlan::load(tmp / "sweep/minus1_all/plan.yaml");
  EXPECT_EQ(all.resolve("fc1", TensorClass::kActivationGradient)->format.str(), "s11.auto");
  EXPECT_EQ(all.resolve("fc1", TensorClass::kAccumulator)->format.str(), "s19.18");
  const std::string table = slurp(tmp / "sweep/sweep.md");
  for (const char* row : {"| fl |", "| minus1_GA |", "| minus1_all |"})
    EXPECT_NE(table.find(row), std::string::npos) << row;

  // Against a reference trained for longer, the table takes the reference at the sweep's last epoch
  // (the narrowed runs are already complete, so nothing is retrained).
  const fs::path reference = tmp / "longer";
  for (const char* run : {"fl", "fx"}) {
    std::vector<EpochMetrics> epochs(3);
    for (int e = 0; e < 3; ++e) {
      epochs[e].epoch = e + 1;
      epochs[e].test_acc = 0.5 + 0.1 * e; // test error 50%, 40%, 30%
    }
    fs::create_directories(reference / run);
    write_metrics((reference / run / "metrics.jsonl").string(), epochs);
  }
  options.reference_dir = reference.string();
  run_minus_one_sweep(options);
  const std::string against_longer = slurp(tmp / "sweep/sweep.md");
  EXPECT_NE(against_longer.find("| fl | float | 50"), std::string::npos) << against_longer;
  EXPECT_EQ(against_longer.find("| fl | float | 30"), std::string::npos) << against_longer;
  // A reference that never reached the sweep's last epoch is an error naming its metrics file.
  options.config.train.epochs = 4;
  EXPECT_THROW(
      {
        try {
          run_minus_one_sweep(options);
        } catch (const std::runtime_error& e) {
          EXPECT_NE(std::string(e.what()).find("metrics.jsonl: no epoch 4"), std::string::npos) << e.what();
          throw;
        }
      },
      std::runtime_error);
}

} // namespace
} // namespace fxnn
