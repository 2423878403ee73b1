#include "fxnn/nn/model_zoo.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace fxnn {
namespace {

std::set<std::string> point_names(const Network& network) {
  std::set<std::string> names;
  for (const auto& p : network->quant_points()) names.insert(p->name());
  return names;
}

TEST(ModelZoo, CnnHasTheFivePointsPerLayerAndAGradientPointOnTheLogits) {
  auto net = make_network(ModelOptions{}, InputShape{1, 28, 28, 10});
  const auto names = point_names(net);
  for (const char* layer : {"conv1", "conv2", "fc1"})
    for (const char* cls : {"W", "A", "GW", "GA", "acc"})
      EXPECT_TRUE(names.count(std::string(layer) + "." + cls)) << layer << cls;
  for (const char* cls : {"W", "GW", "acc", "GA"}) EXPECT_TRUE(names.count(std::string("fc2.") + cls));
  EXPECT_FALSE(names.count("fc2.A")); // the logits stay in float
  EXPECT_EQ(net->layer_names(), (std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"}));
  EXPECT_EQ(net->weight_quantizations().size(), 4u);
  const auto y = net->forward(torch::randn({3, 1, 28, 28}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 10}));
}

TEST(ModelZoo, FloatParametersAreBiasesAndBatchNormOnly) {
  auto net = make_network(ModelOptions{}, InputShape{1, 28, 28, 10});
  const auto weights = net->weight_quantizations();
  const auto floats = net->float_parameters();
  EXPECT_EQ(weights.size() + floats.size(), net->parameters().size());
  for (const auto& p : floats) EXPECT_LE(p.dim(), 1); // BN gamma/beta and the output bias
}

TEST(ModelZoo, MlpFollowsHiddenSizesAndWidth) {
  ModelOptions o;
  o.arch = "mlp";
  o.hidden = {100, 50};
  o.width = 0.5;
  auto net = make_network(o, InputShape{1, 28, 28, 10});
  const auto w = net->weight_quantizations();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].weight.sizes(), (std::vector<int64_t>{50, 784}));
  EXPECT_EQ(w[1].weight.sizes(), (std::vector<int64_t>{25, 50}));
  EXPECT_EQ(w[2].weight.sizes(), (std::vector<int64_t>{10, 25}));
  EXPECT_EQ(w[2].layer, "fc3");
}

TEST(ModelZoo, ConvNetIsTheBinaryConnectArchitecture) {
  ModelOptions o;
  o.arch = "convnet";
  o.width = 0.125;
  auto net = make_network(o, InputShape{3, 32, 32, 10});
  const auto w = net->weight_quantizations();
  ASSERT_EQ(w.size(), 9u); // 6 conv + 2 hidden FC + output
  EXPECT_EQ(w[0].weight.sizes(), (std::vector<int64_t>{16, 3, 3, 3}));
  EXPECT_EQ(w[5].weight.sizes(), (std::vector<int64_t>{64, 64, 3, 3}));
  EXPECT_EQ(w[6].weight.sizes(), (std::vector<int64_t>{128, 64 * 4 * 4}));
  EXPECT_EQ(w[8].weight.sizes(), (std::vector<int64_t>{10, 128}));
  EXPECT_EQ(net->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 10}));
}

TEST(ModelZoo, ResNet20HasNineBlocksAndProjectionShortcuts) {
  ModelOptions o;
  o.arch = "resnet20";
  o.width = 1.0 / 16; // 8/16/32 channels
  o.dropout = 0.2;
  auto net = make_network(o, InputShape{3, 32, 32, 100});
  const auto names = point_names(net);
  EXPECT_TRUE(names.count("s1b1.conv1.W"));
  EXPECT_TRUE(names.count("s3b3.conv2.A"));
  EXPECT_TRUE(names.count("s2b1.shortcut.W"));
  EXPECT_TRUE(names.count("s3b1.shortcut.GW"));
  EXPECT_FALSE(names.count("s1b1.shortcut.W")); // same shape: identity shortcut
  // 1 stem conv + 9 blocks x 2 convs + 2 projections + fc = 22 weight tensors; 19 weighted layers on the main path.
  EXPECT_EQ(net->weight_quantizations().size(), 22u);
  const auto stem = net->weight_quantizations()[0];
  EXPECT_EQ(stem.weight.size(0), 8);
  EXPECT_EQ(net->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 100}));
}

TEST(ModelZoo, RejectsUnknownArchitectureNamingIt) {
  ModelOptions o;
  o.arch = "transformer";
  try {
    make_network(o, InputShape{});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'transformer'"), std::string::npos);
  }
}

} // namespace
} // namespace fxnn
