#include "fxnn/precision/cost_model.h"

#include <gtest/gtest.h>

namespace fxnn {
namespace {

TEST(CostModel, DotProductCostIsTheSpecFormula) {
  // D B_a B_w + (D - 1)(B_a + B_w + ceil(log2 D) - 1): D = 9, 8-bit x 4-bit: 288 + 8 * (8 + 4 + 4 - 1) = 408.
  EXPECT_DOUBLE_EQ(dot_product_cost(9, 8, 4), 408);
  EXPECT_DOUBLE_EQ(dot_product_cost(1, 3, 5), 15);
  EXPECT_DOUBLE_EQ(dot_product_cost(0, 3, 5), 0);
}

TEST(CostModel, MlpCostsByHand) {
  // mlp 784 - 4 - 10 without batch norm, batch 2; uniform plan: W 8, A 6, GW 10, GA 12, acc 20; input 8 bits.
  auto config = ExperimentConfig::parse(
      "", "c.yaml", {"model.arch=mlp", "model.hidden=[4]", "model.batch_norm=false", "train.batch_size=2"});
  const auto plan =
      PrecisionPlan::parse("defaults: {W: s8.7, A: u6.5, GW: s10.12, GA: s12.14, acc: s20.19}\n", "p.yaml");
  const auto costs = training_costs(config, standard_schemes(plan));
  ASSERT_EQ(costs.size(), 5u);
  const auto& fx = costs[1];
  EXPECT_EQ(fx.scheme, "FX");
  const double forward = 2 * (4 * dot_product_cost(784, 8, 8) + 10 * dot_product_cost(4, 6, 8));
  const double backward = 2 * 4 * dot_product_cost(10, 12, 8); // only into the hidden layer
  const double weight_gradient = 784 * 4 * dot_product_cost(2, 8, 12) + 4 * 10 * dot_product_cost(2, 6, 12);
  const double update = (784 * 4 + 4 * 10) * 20.0;
  EXPECT_DOUBLE_EQ(fx.forward, forward);
  EXPECT_DOUBLE_EQ(fx.backward, backward);
  EXPECT_DOUBLE_EQ(fx.weight_gradient, weight_gradient);
  EXPECT_DOUBLE_EQ(fx.update, update);
  EXPECT_DOUBLE_EQ(fx.communication, (784 * 4 + 4 * 10) * 10.0);
  // W + GW + acc per weight, and A + GA per output element and sample (the logits have no A: 32).
  EXPECT_DOUBLE_EQ(fx.representational, (784 * 4 + 40) * (8 + 10 + 20.0) + 2 * (4 * (6 + 12) + 10 * (32 + 12.0)));
  // FL is 32 bits everywhere: far more expensive; TG only shrinks communication.
  EXPECT_GT(costs[0].computational, 10 * fx.computational);
  EXPECT_DOUBLE_EQ(costs[4].computational, costs[0].computational);
  EXPECT_DOUBLE_EQ(costs[4].communication, costs[0].communication / 16);
}

TEST(CostModel, ResNetShortcutsReadTheBlockInputAndShareTheBlockGradient) {
  auto config =
      ExperimentConfig::parse("", "c.yaml", {"data.dataset=cifar10", "model.arch=resnet20", "model.width=0.0625"});
  const auto plan =
      PrecisionPlan::parse("defaults: {W: s8.7, A: u8.7, GW: s12.auto, GA: s12.auto, acc: s24.23}\n", "p.yaml");
  const auto costs = training_costs(config, standard_schemes(plan));
  EXPECT_GT(costs[1].computational, 0);
  EXPECT_LT(costs[1].computational, costs[0].computational);
}

} // namespace
} // namespace fxnn
