// NaN and infinity in configs and checkpoints: a number that means nothing, or weights a diverged
// run left, are refused with the file, the key or the tensor, instead of training or exporting them.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "../support/error_message.h"
#include "../support/fixtures.h"
#include "../support/temp_dir.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

using testing_support::error_message;
using testing_support::TempDir;

TEST(NonFiniteValues, ConfigNumbersMustBeFinite) {
  EXPECT_EQ(error_message([] { ExperimentConfig::parse("optim: {lr: .inf}\n", "c.yaml"); }),
            "c.yaml: optim.lr: expected a finite number, got '.inf'");
  EXPECT_EQ(error_message([] { ExperimentConfig::parse("model: {dropout: .nan}\n", "c.yaml"); }),
            "c.yaml: model.dropout: expected a finite number, got '.nan'");
  const std::string mean =
      error_message([] { ExperimentConfig::parse("transform: {mean: [0.5, .nan], std: [1, 1]}\n", "c.yaml"); });
  EXPECT_NE(mean.find("c.yaml: transform.mean: expected finite numbers, got"), std::string::npos) << mean;
  EXPECT_NE(error_message([] {
              ExperimentConfig::parse("name: x\n", "c.yaml", {"optim.momentum=-.inf"});
            }).find("c.yaml: optim.momentum: expected a finite number"),
            std::string::npos);
}

ExperimentConfig small_config(int64_t epochs) {
  return ExperimentConfig::parse("name: nan\nseed: 3\n", "nan.yaml",
                                 {"data.train_limit=200", "data.test_limit=100", "model.arch=mlp", "model.hidden=[8]",
                                  "train.epochs=" + std::to_string(epochs)});
}

TEST(NonFiniteValues, CheckpointWithNonFiniteWeightsIsNeitherResumedNorExported) {
  TempDir tmp;
  const std::string dir = tmp / "run";
  std::filesystem::create_directories(dir);
  const ExperimentConfig config = small_config(2);
  // What a diverged run saves: weights and their accumulators (initialized from them) not finite.
  auto network = build_network(config, std::nullopt);
  const auto first = network->named_parameters()[0];
  {
    torch::NoGradGuard no_grad;
    first.value().view(-1)[3] = std::numeric_limits<float>::quiet_NaN();
    first.value().view(-1)[5] = std::numeric_limits<float>::infinity();
  }
  auto optimizer = build_optimizer(config, *network);
  save_checkpoint(dir + "/checkpoint.pt", 1, *network, *optimizer, run_identity(config, std::nullopt));
  EpochMetrics first_epoch;
  first_epoch.epoch = 1;
  write_metrics(dir + "/metrics.jsonl", {first_epoch}); // the line a run writes before the checkpoint

  auto fresh = build_network(config, std::nullopt);
  const std::string message = error_message([&] { load_network_weights(dir + "/checkpoint.pt", *fresh); });
  EXPECT_NE(message.find(dir + "/checkpoint.pt: the weights of epoch 1 are not finite (" + first.key() + ": 2 of "),
            std::string::npos)
      << message;
  EXPECT_EQ(non_finite_tensors(*build_network(config, std::nullopt)), "");

  if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TrainerOptions o;
  o.config = config;
  o.out_dir = dir;
  o.resume = true;
  o.quiet = true;
  const std::string resume = error_message([&] { Trainer trainer(o); });
  EXPECT_NE(resume.find(dir + "/checkpoint.pt: cannot resume: the weights of epoch 1 are not finite"),
            std::string::npos)
      << resume;
  // A run whose epochs are all done is left as it is (a sweep revisits finished, diverged runs).
  o.config = small_config(1);
  Trainer complete(o);
  EXPECT_TRUE(complete.complete());
}

} // namespace
} // namespace fxnn
