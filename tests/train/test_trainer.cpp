#include "fxnn/train/trainer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "../support/fixtures.h"
#include "../support/temp_dir.h"
#include "fxnn/train/checkpoint.h"

namespace fxnn {
namespace {

using testing_support::TempDir;
namespace fs = std::filesystem;

using testing_support::have_fashion_mnist;

/// A run small enough for a unit test: 600 training and 200 test images, MLP 784-32-10.
ExperimentConfig tiny_config(int64_t epochs) {
  return ExperimentConfig::parse(
      "name: tiny\nseed: 5\n", "tiny.yaml",
      {"data.train_limit=600", "data.test_limit=200", "model.arch=mlp", "model.hidden=[32]", "model.dropout=0.25",
       "train.batch_size=100", "train.epochs=" + std::to_string(epochs), "optim.lr=0.1"});
}

PrecisionPlan tiny_plan() {
  return PrecisionPlan::parse(
      "defaults:\n  W: s8.7\n  A: u8.7\n  GW: s12.auto\n"
      "  GA: {format: s12.auto, rounding: stochastic}\n  acc: s20.19\n",
      "tiny_plan.yaml");
}

TrainerOptions options_for(const std::string& dir, int64_t epochs, bool fixed_point) {
  TrainerOptions o;
  o.config = tiny_config(epochs);
  if (fixed_point) o.plan = tiny_plan();
  o.out_dir = dir;
  o.quiet = true;
  return o;
}

std::vector<torch::Tensor> checkpoint_tensors(const std::string& dir, const ExperimentConfig& config) {
  auto net = build_network(config, std::nullopt);
  load_network_weights(dir + "/checkpoint.pt", *net);
  std::vector<torch::Tensor> tensors;
  for (const auto& p : net->parameters()) tensors.push_back(p.clone());
  for (const auto& b : net->buffers()) tensors.push_back(b.clone());
  return tensors;
}

TEST(Trainer, FloatRunWritesTheRunDirectory) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  Trainer trainer(options_for(tmp / "run", 2, false));
  const auto metrics = trainer.run();
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_TRUE(fs::exists(tmp / "run/config.yaml"));
  EXPECT_TRUE(fs::exists(tmp / "run/checkpoint.pt"));
  EXPECT_FALSE(fs::exists(tmp / "run/plan.yaml"));
  const auto lines = read_metrics(tmp / "run/metrics.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].epoch, 2);
  EXPECT_GT(lines[1].test_acc, 0.5); // 600 images, 2 epochs: well above chance (0.1)
  EXPECT_TRUE(lines[1].saturation.empty());
  for (const auto& entry : fs::directory_iterator(tmp.str() + "/run"))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << "left behind: " << entry.path();
}

TEST(Trainer, FixedPointRunKeepsWeightsOnTheirGridAndReportsSaturation) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  Trainer trainer(options_for(tmp / "run", 1, true));
  const auto metrics = trainer.run();
  EXPECT_TRUE(fs::exists(tmp / "run/plan.yaml"));
  // W is s8.7 everywhere: every weight is an integer multiple of 2^-7 within [-1, 1).
  for (const auto& w : trainer.network().weight_quantizations()) {
    const auto codes = w.weight * 128;
    EXPECT_TRUE(torch::equal(codes, codes.round())) << w.layer;
    EXPECT_LE(w.weight.max().item<float>(), 127.0f / 128);
    EXPECT_GE(w.weight.min().item<float>(), -1.0f);
  }
  // Every quantized point reports a saturation rate.
  EXPECT_EQ(metrics[0].saturation.size(), 5u * 2 - 1); // fc1: W A GW GA acc; fc2: W GW GA acc
  for (const auto& [name, rate] : metrics[0].saturation) {
    EXPECT_GE(rate, 0.0) << name;
    EXPECT_LE(rate, 1.0) << name;
  }
}

TEST(Trainer, ResumedRunEqualsUninterruptedRunBitForBit) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  {
    Trainer straight(options_for(tmp / "straight", 2, true));
    straight.run();
  }
  {
    auto first = options_for(tmp / "resumed", 2, true);
    first.stop_after_epoch = 1;
    Trainer(first).run();
    EXPECT_EQ(read_metrics(tmp / "resumed/metrics.jsonl").size(), 1u);
    auto second = options_for(tmp / "resumed", 2, true);
    second.resume = true;
    Trainer(second).run();
  }
  {
    // A complete 1-epoch run resumed with 2 epochs is extended: the schedule and each epoch's sample
    // order depend on absolute epochs only, so it equals the 2-epoch run.
    Trainer(options_for(tmp / "extended", 1, true)).run();
    auto longer = options_for(tmp / "extended", 2, true);
    longer.resume = true;
    EXPECT_EQ(Trainer(longer).run().size(), 2u);
  }
  const auto config = tiny_config(2);
  const auto a = checkpoint_tensors(tmp / "straight", config);
  for (const char* other : {"resumed", "extended"}) {
    const auto b = checkpoint_tensors(tmp / other, config);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << other << " tensor " << i;
  }
  const auto ma = read_metrics(tmp / "straight/metrics.jsonl");
  const auto mb = read_metrics(tmp / "resumed/metrics.jsonl");
  ASSERT_EQ(mb.size(), 2u);
  EXPECT_EQ(ma[1].test_acc, mb[1].test_acc);
  EXPECT_EQ(ma[1].train_loss, mb[1].train_loss);
}

TEST(Trainer, RefusesToMixRuns) {
  if (!have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  Trainer(options_for(tmp / "run", 1, false)).run();
  EXPECT_THROW(Trainer(options_for(tmp / "run", 1, false)), std::runtime_error); // no --resume
  auto other = options_for(tmp / "run", 1, false);
  other.resume = true;
  other.config.optim.lr = 0.5;
  EXPECT_THROW({ Trainer t(other); }, std::runtime_error); // different config
  auto fixed = options_for(tmp / "run", 1, true);
  fixed.resume = true;
  EXPECT_THROW({ Trainer t(fixed); }, std::runtime_error); // float run resumed with a plan
  // Resuming a complete run trains nothing and keeps its metrics.
  auto same = options_for(tmp / "run", 1, false);
  same.resume = true;
  EXPECT_EQ(Trainer(same).run().size(), 1u);
}

} // namespace
} // namespace fxnn
