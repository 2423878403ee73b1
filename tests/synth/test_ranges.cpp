#include "fxnn/synth/ranges.h"

#include <gtest/gtest.h>

#include <random>

#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

using synth_testing::expect_enclosed;

TEST(Ranges, IntervalAndSymbolicEncloseSampledValues) {
  const std::vector<std::vector<int64_t>> shapes = {{3, 8, 6, 2}, {2, 16, 16, 1}, {4, 5, 5, 5, 5, 3}};
  uint64_t seed = 11;
  for (const auto& shape : shapes)
    for (floatnet::Activation act : {floatnet::Activation::kRelu, floatnet::Activation::kClippedRelu}) {
      const floatnet::FloatNetwork net = synth_testing::random_network(shape, seed++, 1.0, act);
      const InputBox box = synth_testing::uniform_box(shape.front(), -1.0, 1.5);
      const NetworkRanges interval = analyze_ranges(net, box, RangeMode::kInterval);
      const NetworkRanges symbolic = analyze_ranges(net, box, RangeMode::kSymbolic);
      expect_enclosed(net, box, interval, seed);
      expect_enclosed(net, box, symbolic, seed + 100);
      for (size_t l = 0; l < net.layers.size(); ++l)
        for (size_t i = 0; i < interval.layers[l].pre_lo.size(); ++i) {
          EXPECT_GE(symbolic.layers[l].pre_lo[i],
                    interval.layers[l].pre_lo[i]); // the symbolic ranges meet the intervals
          EXPECT_LE(symbolic.layers[l].pre_hi[i], interval.layers[l].pre_hi[i]);
        }
    }
}

TEST(Ranges, SymbolicRangesKeepTheDependenceOnTheInputs) {
  // z = relu(x) - relu(x) = 0 for x in [0, 1]: intervals give [-1, 1], zonotopes about [0, 0].
  floatnet::FloatNetwork net;
  floatnet::DenseLayer a, b;
  a.weight = Eigen::MatrixXd::Ones(2, 1);
  a.bias = Eigen::VectorXd::Zero(2);
  a.activation = floatnet::Activation::kRelu;
  b.weight = Eigen::MatrixXd(1, 2);
  b.weight << 1.0, -1.0;
  b.bias = Eigen::VectorXd::Zero(1);
  net.layers = {a, b};
  const InputBox box = parse_input_box("0:1");
  const NetworkRanges interval = analyze_ranges(net, box, RangeMode::kInterval);
  const NetworkRanges symbolic = analyze_ranges(net, box, RangeMode::kSymbolic);
  EXPECT_LE(interval.layers[1].pre_lo[0], -1.0);
  EXPECT_GE(interval.layers[1].pre_hi[0], 1.0);
  EXPECT_LE(symbolic.layers[1].pre_hi[0] - symbolic.layers[1].pre_lo[0], 1e-12);
  EXPECT_LE(symbolic.layers[1].pre_lo[0], 0.0); // still sound
  EXPECT_GE(symbolic.layers[1].pre_hi[0], 0.0);
  const auto widths = range_widths(symbolic);
  EXPECT_LE(widths[1].max_width, 1e-12);
}

TEST(Ranges, BoundsAreWidenedForFloatingPointRounding) {
  // 0.1 + 0.2 in double is 0.30000000000000004 > 0.3: a bound computed without widening could
  // exclude the exact value for some input; the widened one holds an interval around it.
  floatnet::FloatNetwork net;
  floatnet::DenseLayer a;
  a.weight = Eigen::MatrixXd::Ones(1, 2);
  a.bias = Eigen::VectorXd::Zero(1);
  net.layers = {a};
  const NetworkRanges r = analyze_ranges(net, parse_input_box("0.1:0.1,0.2:0.2"), RangeMode::kInterval);
  EXPECT_LT(r.layers[0].pre_lo[0], 0.1 + 0.2);
  EXPECT_LT(r.layers[0].pre_lo[0], 0.3);
  EXPECT_GT(r.layers[0].pre_hi[0], 0.1 + 0.2);
}

TEST(Ranges, BoxMustFitTheNetwork) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 4, 1}, 1);
  EXPECT_THROW(analyze_ranges(net, parse_input_box("0:1,0:1"), RangeMode::kInterval), std::invalid_argument);
  EXPECT_THROW(parse_range_mode("zonotope?"), std::invalid_argument);
}

} // namespace
} // namespace fxnn::synth
