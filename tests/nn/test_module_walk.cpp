#include "fxnn/nn/module_walk.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fxnn/nn/model_zoo.h"

namespace fxnn {
namespace {

/// Every visit as one word: "conv1+bn+act", "pool", "flatten", "fc2", "point", "block", ...
class Recorder : public ModuleVisitor {
 public:
  void weighted_layer(const WeightedLayer& layer) override {
    visits.push_back(layer.name() + (layer.batch_norm ? "+bn" : "") + (layer.activation ? "+act" : ""));
  }
  void batch_norm(const BatchNormView&) override { visits.push_back("bn"); }
  void activation(const QActivationImpl&, const ModuleRef&) override { visits.push_back("act"); }
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override { visits.push_back("point"); }
  void residual_block(const ResidualBlockImpl& block, const ModuleRef&) override {
    visits.push_back(block.options.name());
  }
  void max_pool(const torch::nn::MaxPool2dImpl&, const ModuleRef&) override { visits.push_back("pool"); }
  void average_pool(const torch::nn::AdaptiveAvgPool2dImpl&, const ModuleRef&) override { visits.push_back("avgpool"); }
  void flatten(const ModuleRef&) override { visits.push_back("flatten"); }
  void dropout(const ModuleRef&) override { visits.push_back("dropout"); }
  void unsupported(const ModuleRef& where) override { visits.push_back("unsupported " + where.key); }

  std::vector<std::string> visits;
};

std::vector<std::string> visits(const ModelOptions& options, const InputShape& input) {
  Network net = make_network(options, input);
  Recorder recorder;
  walk_modules(*net, recorder);
  return recorder.visits;
}

TEST(ModuleWalk, ALayerComesWithItsBatchNormAndActivation) {
  ModelOptions o;
  o.width = 0.25;
  EXPECT_EQ(visits(o, InputShape{1, 28, 28, 10}),
            (std::vector<std::string>{"conv1+bn+act", "pool", "conv2+bn+act", "pool", "flatten", "fc1+bn+act", "fc2",
                                      "point"}));
  o.arch = "mlp";
  o.hidden = {8, 4};
  o.batch_norm = false;
  o.dropout = 0.5;
  EXPECT_EQ(visits(o, InputShape{1, 28, 28, 10}),
            (std::vector<std::string>{"flatten", "fc1+act", "dropout", "fc2+act", "dropout", "fc3", "point"}));
}

TEST(ModuleWalk, ResidualBlocksAreOneVisitAndOtherModulesAreUnsupported) {
  ModelOptions o;
  o.arch = "resnet20";
  o.width = 0.0625;
  const auto v = visits(o, InputShape{3, 32, 32, 10});
  ASSERT_EQ(v.size(), 14u);
  EXPECT_EQ(v[0], "conv1+bn+act");
  EXPECT_EQ(v[1], "s1b1");
  EXPECT_EQ(v[9], "s3b3");
  EXPECT_EQ((std::vector<std::string>(v.end() - 4, v.end())),
            (std::vector<std::string>{"avgpool", "flatten", "fc", "point"}));

  Network net(torch::nn::Sequential(torch::nn::BatchNorm1d(4), torch::nn::Linear(4, 4)));
  Recorder recorder;
  walk_modules(*net, recorder);
  EXPECT_EQ(recorder.visits, (std::vector<std::string>{"bn", "unsupported 1"}));
}

TEST(ModuleWalk, BatchNormViewReadsBothDimensions) {
  torch::nn::BatchNorm2d bn2(torch::nn::BatchNorm2dOptions(3).eps(1e-3));
  torch::nn::BatchNorm1d bn1(torch::nn::BatchNorm1dOptions(5).affine(false));
  const auto v2 = batch_norm_view({"a", bn2.get()});
  const auto v1 = batch_norm_view({"b", bn1.get()});
  ASSERT_TRUE(v2 && v1);
  EXPECT_TRUE(v2->two_d);
  EXPECT_EQ(v2->eps, 1e-3);
  EXPECT_TRUE(torch::equal(v2->gamma(), bn2->weight));
  EXPECT_FALSE(v1->two_d);
  EXPECT_FALSE(v1->affine);
  EXPECT_TRUE(torch::equal(v1->gamma(), torch::ones({5})));
  EXPECT_FALSE(batch_norm_view({"c", torch::nn::Linear(2, 2).get()}));
}

} // namespace
} // namespace fxnn
