#include "fxnn/config/experiment_config.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace fxnn {
namespace {

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    ExperimentConfig::parse(text, "c.yaml", overrides);
  } catch (const std::runtime_error& e) { return e.what(); }
  return "no error";
}

TEST(ExperimentConfig, EveryShippedConfigLoads) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(FXNN_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    EXPECT_NO_THROW(ExperimentConfig::load(entry.path().string())) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 6);
}

TEST(ExperimentConfig, OverridesSetNestedKeysAndParseValuesAsYaml) {
  const auto c =
      ExperimentConfig::parse("train:\n  epochs: 10\n", "c.yaml",
                              {"train.epochs=3", "model.hidden=[64, 32]", "optim.lr_milestones=[5]", "seed=7"});
  EXPECT_EQ(c.train.epochs, 3);
  EXPECT_EQ(c.model.hidden, (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(c.optim.lr_milestones, (std::vector<int64_t>{5}));
  EXPECT_EQ(c.seed, 7u);
}

TEST(ExperimentConfig, UnknownKeysAreErrorsNamingThem) {
  EXPECT_NE(error_of("train:\n  epoch: 3\n").find("c.yaml: train.epoch: unknown key"), std::string::npos);
  EXPECT_NE(error_of("trian:\n  epochs: 3\n").find("c.yaml: trian: unknown key"), std::string::npos);
  EXPECT_NE(error_of("", {"optim.learning_rate=0.1"}).find("optim.learning_rate: unknown key"), std::string::npos);
}

TEST(ExperimentConfig, BadValuesAreErrorsNamingKeyAndValue) {
  EXPECT_NE(error_of("train:\n  epochs: ten\n").find("c.yaml: train.epochs: expected an integer, got 'ten'"),
            std::string::npos);
  EXPECT_NE(error_of("optim:\n  lr: -1\n").find("c.yaml: optim.lr: value -1 must be positive"), std::string::npos);
  EXPECT_NE(error_of("model:\n  arch: vgg\n").find("model.arch: value vgg is not one of"), std::string::npos);
  EXPECT_NE(error_of("", {"train.epochs"}).find("expected key.path=value"), std::string::npos);
  EXPECT_NE(
      error_of("train:\n  epochs: 3\n", {"train.epochs.x=1"}).find("--set train.epochs.x: 'epochs' is not a section"),
      std::string::npos);
  EXPECT_NE(error_of("", {"train.epochs.x=1"}).find("c.yaml: train.epochs: expected an integer, got a map"),
            std::string::npos);
}

TEST(ExperimentConfig, StepScheduleAndSmallestRate) {
  OptimOptions o;
  o.lr = 0.1;
  o.lr_milestones = {5, 8};
  o.lr_gamma = 0.1;
  EXPECT_DOUBLE_EQ(o.lr_at(1), 0.1);
  EXPECT_DOUBLE_EQ(o.lr_at(5), 0.01);
  EXPECT_NEAR(o.lr_at(9), 0.001, 1e-15);
  EXPECT_NEAR(o.lr_min(10), 0.001, 1e-15);
  EXPECT_NEAR(o.lr_min(6), 0.01, 1e-15); // the second milestone is never reached
  EXPECT_DOUBLE_EQ(o.lr_min(4), 0.1);
}

TEST(ExperimentConfig, ToYamlReadsBackIdentically) {
  const auto c = ExperimentConfig::parse(
      "name: x\nmodel:\n  arch: mlp\n  hidden: [10]\ntransform:\n  mean: [0.5]\n  std: [0.25]\n", "c.yaml");
  const auto again = ExperimentConfig::parse(c.to_yaml(), "again.yaml");
  EXPECT_EQ(again.to_yaml(), c.to_yaml());
  EXPECT_EQ(again.model.hidden, (std::vector<int64_t>{10}));
}

} // namespace
} // namespace fxnn
