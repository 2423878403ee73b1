#pragma once
// Small networks and files shared by the synthesis, code generation and importer tests.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth_testing {

/// A random dense ReLU network (linear last layer) with the given layer sizes, fixed seed.
inline floatnet::FloatNetwork random_network(const std::vector<int64_t>& sizes, uint64_t seed, double scale = 1.0,
                                             floatnet::Activation hidden = floatnet::Activation::kRelu) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  floatnet::FloatNetwork net;
  net.source = "random";
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    floatnet::DenseLayer layer;
    layer.weight.resize(sizes[l + 1], sizes[l]);
    layer.bias.resize(sizes[l + 1]);
    for (int64_t i = 0; i < sizes[l + 1]; ++i) {
      for (int64_t j = 0; j < sizes[l]; ++j) layer.weight(i, j) = scale * u(rng);
      layer.bias(i) = 0.5 * scale * u(rng);
    }
    layer.activation = l + 2 < sizes.size() ? hidden : floatnet::Activation::kLinear;
    layer.clip = hidden == floatnet::Activation::kClippedRelu ? 1.5 : 0.0;
    net.layers.push_back(layer);
  }
  return net;
}

/// 1 input, 8 ReLU neurons of small weights, 1 output of large ones: Aster's pitfall 2 (its model
/// amplifies layer 1's errors by layer 1's weights, reality by layer 2's), for the box [0.5, 1].
inline floatnet::FloatNetwork aster_pitfall_network() {
  floatnet::FloatNetwork net;
  floatnet::DenseLayer a, b;
  a.weight = Eigen::MatrixXd(8, 1);
  for (int i = 0; i < 8; ++i) a.weight(i, 0) = 0.1 + 0.01 * i;
  a.bias = Eigen::VectorXd::Zero(8);
  a.activation = floatnet::Activation::kRelu;
  b.weight = Eigen::MatrixXd::Constant(1, 8, 8.0);
  b.bias = Eigen::VectorXd::Zero(1);
  net.layers = {a, b};
  return net;
}

/// Every neuron's pre- and post-activation value for one input, in long double.
inline std::vector<std::pair<std::vector<long double>, std::vector<long double>>> trace(
    const floatnet::FloatNetwork& net, const std::vector<double>& x) {
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
inline void expect_enclosed(const floatnet::FloatNetwork& net, const synth::InputBox& box,
                            const synth::NetworkRanges& r, uint64_t seed) {
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

inline synth::InputBox uniform_box(int64_t n, double lo, double hi) {
  synth::InputBox box;
  for (int64_t j = 0; j < n; ++j) box.dims.push_back({lo + 0.1 * static_cast<double>(j % 3), hi});
  return box;
}

// 2 inputs, 3 hidden ReLU, 1 output; normalization means (0.5, 0.25 | 3), ranges (2, 4 | 10).
inline const char* kNormalizedNNet = R"(// a comment line
// another
2,2,1,3,
2,3,1,
0,
-1.0,-1.0,
1.0,1.0,
0.5,0.25,3.0,
2.0,4.0,10.0,
1.0,-2.0,
0.5,0.5,
-1.0,3.0,
0.1,
-0.2,
0.3,
1.0,-1.0,2.0,
0.25,
)";

/// The real controllers of the benchmark suite, or "" when this checkout has no shared data.
inline std::string controllers_dir() {
#ifdef FXNN_CONTROLLERS_DIR
  if (std::filesystem::exists(FXNN_CONTROLLERS_DIR "/benchmarks.yaml")) return FXNN_CONTROLLERS_DIR;
#endif
  return "";
}

} // namespace fxnn::synth_testing
