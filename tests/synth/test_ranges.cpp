#include "fxnn/synth/ranges.h"

#include <gtest/gtest.h>

#include <random>

#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

/// Every neuron's pre- and post-activation value for one input, in long double.
std::vector<std::pair<std::vector<long double>, std::vector<long double>>> trace(const floatnet::FloatNetwork& net,
                                                                                 const std::vector<double>& x) {
  std::vector<std::pair<std::vector<long double>, std::vector<long double>>> out;
  std::vector<long double> current(x.begin(), x.end());
  for (const auto& layer : net.layers) {
    std::vector<long double> pre(static_cast<size_t>(layer.outputs())), post(pre.size());
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      long double z = layer.bias(i);
      for (int64_t j = 0; j < layer.inputs(); ++j) z += layer.weight(i, j) * current[static_cast<size_t>(j)];
      pre[static_cast<size_t>(i)] = z;
      post[static_cast<size_t>(i)] = floatnet::activate(layer.activation, layer.clip, z);
    }
    out.emplace_back(pre, post);
    current = post;
  }
  return out;
}

/// Samples (random points and all corners) must lie inside the ranges.
void expect_enclosed(const floatnet::FloatNetwork& net, const InputBox& box, const NetworkRanges& r, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> points;
  for (int k = 0; k < 3000; ++k) {
    std::vector<double> x;
    for (const auto& iv : box.dims) x.push_back(std::uniform_real_distribution<double>(iv.lo, iv.hi)(rng));
    points.push_back(x);
  }
  for (uint64_t c = 0; c < (uint64_t{1} << box.size()); ++c) {
    std::vector<double> x;
    for (size_t d = 0; d < box.size(); ++d) x.push_back((c >> d) & 1 ? box.dims[d].hi : box.dims[d].lo);
    points.push_back(x);
  }
  for (const auto& x : points) {
    const auto t = trace(net, x);
    for (size_t l = 0; l < t.size(); ++l)
      for (size_t i = 0; i < t[l].first.size(); ++i) {
        ASSERT_LE(r.layers[l].pre_lo[i], t[l].first[i]) << "layer " << l << " neuron " << i;
        ASSERT_GE(r.layers[l].pre_hi[i], t[l].first[i]) << "layer " << l << " neuron " << i;
        ASSERT_LE(r.layers[l].post_lo[i], t[l].second[i]);
        ASSERT_GE(r.layers[l].post_hi[i], t[l].second[i]);
      }
  }
}

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
