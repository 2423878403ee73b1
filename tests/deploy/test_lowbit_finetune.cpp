// Low-bit fine-tuning (deploy/lowbit_finetune.h): the fine-tuning config rounds the input std to
// 2^k / 255 and the start network computes what the float network computes; the grids become a
// plan of sB.F weights and uB.F activations; a fine-tuned artifact is what training simulated:
// its integer accuracy equals the last epoch's test accuracy, and the runtime equals its simulation.

#include "fxnn/deploy/lowbit_finetune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "../support/fixtures.h"
#include "../support/temp_dir.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/nn/model_zoo.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn::lowbit {
namespace {

using testing_support::TempDir;

ExperimentConfig tiny_config(const std::string& arch) {
  return ExperimentConfig::parse("name: tiny\nseed: 3\ntransform:\n  mean: [0.2860]\n  std: [0.3530]\n", "tiny.yaml",
                                 {"data.train_limit=1000", "data.test_limit=200", "model.arch=" + arch,
                                  "model.hidden=[32]", "model.width=0.25", "train.batch_size=100", "train.epochs=1"});
}

TEST(LowbitFinetune, ConfigFoldsBatchNormAndRoundsTheInputStd) {
  FinetuneOptions o;
  o.epochs = 2;
  o.lr = 0.02;
  o.momentum = 0.9;
  const ExperimentConfig c = finetune_config(tiny_config("cnn"), o);
  EXPECT_FALSE(c.model.batch_norm);
  ASSERT_EQ(c.transform.std.size(), 1u);
  EXPECT_DOUBLE_EQ(c.transform.std[0] * 255.0, 64.0); // 255 * 0.353 = 90.0 = 2^6.49 -> 2^6
  EXPECT_EQ(c.train.epochs, 2);
  EXPECT_DOUBLE_EQ(c.optim.lr, 0.02);
  EXPECT_DOUBLE_EQ(c.optim.momentum, 0.9);
  EXPECT_EQ(c.seed, 3u); // the float run's
  o.seed = 17;
  EXPECT_EQ(finetune_config(tiny_config("cnn"), o).seed, 17u);
  EXPECT_EQ(c.optim.lr_milestones, std::vector<int64_t>{2}); // the last epoch at lr / 10
  EXPECT_DOUBLE_EQ(c.optim.lr_gamma, 0.1);
  EXPECT_EQ(c.optim.weight_clip, 0.0);
  // Without a std in the config (x = p / 255): 256 / 255 for every channel.
  ExperimentConfig plain = tiny_config("cnn");
  plain.transform.std.clear();
  EXPECT_EQ(finetune_config(plain, o).transform.std, std::vector<double>{256.0 / 255.0});
  o.momentum = 1.0;
  EXPECT_THROW(finetune_config(tiny_config("cnn"), o), std::invalid_argument);
  o.momentum = 0;
  o.epochs = 0;
  EXPECT_THROW(finetune_config(tiny_config("cnn"), o), std::invalid_argument);
}

TEST(LowbitFinetune, TheStartNetworkComputesWhatTheFloatNetworkComputes) {
  const ExperimentConfig config = tiny_config("cnn");
  Network net = build_network(config, std::nullopt);
  {
    // Batch norm statistics and affine parameters away from the identity, so that folding matters.
    torch::NoGradGuard no_grad;
    torch::manual_seed(4);
    for (auto& b : net->named_buffers())
      if (b.key().find("running_var") != std::string::npos)
        b.value().uniform_(0.5, 2.0);
      else if (b.key().find("running_mean") != std::string::npos)
        b.value().uniform_(-0.3, 0.3);
  }
  net->eval();
  FinetuneOptions o;
  o.epochs = 1;
  const ExperimentConfig ft = finetune_config(config, o);
  Network start = build_network(ft, std::nullopt);
  load_layers(*start, finetune_start(float_layers(*net), config, ft));
  start->eval();
  torch::manual_seed(5);
  const auto pixels = torch::rand({6, 1, 28, 28});
  const auto x = (pixels - 0.2860) / 0.3530;
  const auto x_ft = (pixels - 0.2860) / ft.transform.std[0];
  torch::NoGradGuard no_grad;
  const auto y = net->forward(x), y_ft = start->forward(x_ft);
  EXPECT_LT((y - y_ft).abs().max().item<double>(), 1e-4 * (1 + y.abs().max().item<double>()));
}

TEST(LowbitFinetune, GridsBecomeAPlanOfFixedPointOrScaledFormats) {
  std::map<std::string, TrainedGrid> grids{
      {"conv1", {0.03125, 0.25}}, {"conv2", {0.0371, 0.3}}, {"fc2", {std::ldexp(1.0, -7), std::nullopt}}};
  const PrecisionPlan plan = grids_plan(grids, {{"conv1", 3}, {"conv2", 2}, {"fc2", 4}}, 3);
  const std::string yaml = plan.to_yaml();
  EXPECT_NE(yaml.find("W: s3.5"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("A: u3.2"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("W: s4.7"), std::string::npos) << yaml;
  EXPECT_EQ(yaml.find("GW"), std::string::npos) << yaml; // gradients stay in float
  // Steps that are not powers of two: integer codes times the step, which reads back exactly.
  const auto w2 = plan.resolve("conv2", TensorClass::kWeight), a2 = plan.resolve("conv2", TensorClass::kActivation);
  ASSERT_TRUE(w2 && a2);
  EXPECT_EQ(w2->format, Format(2, 0, true));
  EXPECT_EQ(w2->scale, 0.0371);
  EXPECT_EQ(a2->format, Format(3, 0, false));
  EXPECT_EQ(a2->scale, 0.3);
  EXPECT_EQ(PrecisionPlan::parse(yaml, "round trip").to_yaml(), yaml);
}

/// Fine-tuning in one mode: shift-clip at 3 bits (power-of-two grids) or float-scale at 2 (scaled grids,
/// fixed or learned steps).
class LowbitFinetuneRun : public ::testing::TestWithParam<std::tuple<LowbitMode, int, bool>> {
 protected:
  void SetUp() override {
    if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

TEST_P(LowbitFinetuneRun, TheArtifactIsWhatTrainingSimulated) {
  const auto [mode, bits, learn] = GetParam();
  TempDir tmp;
  TrainerOptions t;
  t.config = tiny_config("cnn");
  t.out_dir = tmp / "fl";
  t.quiet = true;
  Trainer(t).run();
  const TrainedRun float_run = load_trained_run(tmp / "fl");
  const auto data = data::load_dataset(float_run.config.data);
  FinetuneOptions o;
  o.epochs = 1;
  o.run_dir = tmp / "ft";
  o.quiet = true;
  o.learn_steps = learn;
  LowbitOptions conversion;
  conversion.with_mode(mode).with_bits(bits).with_calibration_images(200);
  const FinetunedNetwork f =
      finetune_lowbit(float_layers(*float_run.network), float_run.config, data.train, conversion, o);
  for (const char* file : {"config.yaml", "plan.yaml", "metrics.jsonl", "checkpoint.pt"})
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(tmp / "ft") / file)) << file;
  ASSERT_EQ(f.metrics.size(), 1u);
  // The trained weights lie on their grids: integer multiples of the step, within the codes' range.
  for (const auto& l : f.layers) {
    if (!l.weighted()) continue;
    const auto codes = l.weight / f.grids.at(l.name).weight_step;
    EXPECT_LT((codes - codes.round()).abs().max().item<double>(), 1e-3) << l.name;
  }

  LowbitOptions fixed = conversion;
  fixed.trained_grids = f.grids;
  fixed.with_correction(Correction::kNone);
  const LowbitConversion c = convert_to_lowbit(f.layers, f.config, data.train, fixed);
  // Every layer on its trained grid: the artifact's weight steps are the plan's times the input's.
  bool any_scaled = false;
  for (const auto& r : c.layers) {
    const TrainedGrid& g = f.grids.at(r.name);
    EXPECT_DOUBLE_EQ(r.weight_step_min, r.input_step * g.weight_step) << r.name;
    if (g.activation_step) EXPECT_DOUBLE_EQ(r.activation_step_min, *g.activation_step) << r.name;
    any_scaled |= !exact_log2(g.weight_step).has_value();
  }
  EXPECT_EQ(any_scaled, mode == LowbitMode::kFloatScale);
  // Learned steps start at the plan's scales and end elsewhere; fixed ones stay.
  const PrecisionPlan plan = PrecisionPlan::load(std::filesystem::path(tmp / "ft") / "plan.yaml");
  bool moved = false;
  for (const auto& [layer, g] : f.grids) {
    const auto w = plan.resolve(layer, TensorClass::kWeight);
    ASSERT_TRUE(w);
    EXPECT_EQ(w->learned, learn);
    moved |= w->scale * w->format.step() != g.weight_step;
  }
  EXPECT_EQ(moved, learn);
  InferenceOptions inference;
  inference.check = true;
  inference.quiet = true;
  const InferenceReport r = run_inference(c.network, data.test, inference);
  EXPECT_EQ(r.code_mismatches, 0);
  // Only the 8-bit input and the biases' rounding separate the two: a prediction or two of 200 at most.
  EXPECT_NEAR(r.accuracy(), f.metrics.back().test_acc, 0.011);
}

INSTANTIATE_TEST_SUITE_P(Modes, LowbitFinetuneRun,
                         ::testing::Values(std::make_tuple(LowbitMode::kShiftClip, 3, false),
                                           std::make_tuple(LowbitMode::kFloatScale, 2, false),
                                           std::make_tuple(LowbitMode::kFloatScale, 2, true)),
                         [](const auto& info) {
                           if (std::get<0>(info.param) == LowbitMode::kShiftClip) return std::string("ShiftClip3");
                           return std::string(std::get<2>(info.param) ? "FloatScale2Learned" : "FloatScale2");
                         });

} // namespace
} // namespace fxnn::lowbit
