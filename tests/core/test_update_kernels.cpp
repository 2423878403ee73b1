// The fused weight update (core/update_kernels.h) against its reference loop and against the
// composition of the quantize kernels it replaces: bit for bit, counts included.

#include "fxnn/core/update_kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <vector>

namespace fxnn {
namespace {

struct UpdateInputs {
  std::vector<float> gradient;
  std::vector<double> acc;
};

/// Gradients and accumulators that hit ties, both saturation ends, NaN and infinities, on more than
/// one block of the parallel kernel.
UpdateInputs make_inputs(int64_t n, const Format& gw, const Format& acc, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  UpdateInputs in;
  in.gradient.resize(static_cast<size_t>(n));
  in.acc.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>(i);
    // On the GW grid plus half a step (ties), or anywhere, or far outside the range.
    const double code = std::round(normal(rng) * 40.0);
    switch (i % 5) {
      case 0: in.gradient[k] = static_cast<float>((code + 0.5) * gw.step()); break;
      case 1: in.gradient[k] = static_cast<float>(normal(rng) * gw.max() * 3); break;
      default: in.gradient[k] = static_cast<float>(normal(rng) * gw.max() / 4); break;
    }
    in.acc[k] = std::round(normal(rng) * 0.4 / acc.step()) * acc.step();
  }
  in.gradient[7] = std::numeric_limits<float>::quiet_NaN();
  in.gradient[11] = std::numeric_limits<float>::infinity();
  in.gradient[13] = -std::numeric_limits<float>::infinity();
  in.acc[17] = std::numeric_limits<double>::quiet_NaN();
  return in;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

void expect_counts_equal(const SaturationCount& a, const SaturationCount& b, const char* what) {
  EXPECT_EQ(a.below, b.below) << what;
  EXPECT_EQ(a.above, b.above) << what;
}

struct UpdateCase {
  const char* name;
  bool quantize_gradient;
  Rounding gradient_rounding;
  double clip;
};

class AccumulatorUpdate : public testing::TestWithParam<UpdateCase> {};

TEST_P(AccumulatorUpdate, FusedEqualsReferenceAndTheQuantizeKernels) {
  const auto& c = GetParam();
  const Format gw_format = Format::parse("s7.12"), acc_format = Format::parse("s17.16"),
               w_format = Format::parse("s10.9");
  const int64_t n = 3 * 65536 + 1234; // several blocks and a ragged tail
  const auto in = make_inputs(n, gw_format, acc_format, 42);
  const double lr = 0.1;
  const std::optional<UpdateQuantizer> gw =
      c.quantize_gradient ? std::optional<UpdateQuantizer>(UpdateQuantizer{gw_format, c.gradient_rounding, 101})
                          : std::nullopt;
  const UpdateQuantizer acc_q{acc_format, Rounding::kNearest, 202};
  const UpdateQuantizer w_q{w_format, Rounding::kNearest, 303};

  auto ref_acc = in.acc, fused_acc = in.acc;
  std::vector<float> ref_w(static_cast<size_t>(n)), fused_w(static_cast<size_t>(n));
  const auto ref = accumulator_update_reference(in.gradient.data(), ref_acc.data(), ref_w.data(), n, lr, c.clip,
                                                gw ? &*gw : nullptr, acc_q, w_q);
  const auto fused = accumulator_update(in.gradient.data(), fused_acc.data(), fused_w.data(), n, lr, c.clip,
                                        gw ? &*gw : nullptr, acc_q, w_q);
  EXPECT_TRUE(same_bits(ref_acc, fused_acc));
  EXPECT_TRUE(same_bits(ref_w, fused_w));
  expect_counts_equal(ref.gradient, fused.gradient, "gradient");
  expect_counts_equal(ref.accumulator, fused.accumulator, "accumulator");
  expect_counts_equal(ref.weight, fused.weight, "weight");

  // The same update as the passes it replaces: Q_GW, then acc - lr G, clamp, Q_acc, then Q_W.
  std::vector<float> g = in.gradient;
  SaturationCount gw_count;
  if (gw) gw_count = quantize<float>(g.data(), g.data(), n, gw_format, c.gradient_rounding, 101);
  std::vector<double> acc = in.acc;
  for (int64_t i = 0; i < n; ++i) {
    double& a = acc[static_cast<size_t>(i)];
    a = std::fma(-lr, static_cast<double>(g[static_cast<size_t>(i)]), a);
    if (c.clip > 0) a = a < -c.clip ? -c.clip : (a > c.clip ? c.clip : a);
  }
  const auto acc_count = quantize<double>(acc.data(), acc.data(), n, acc_format, Rounding::kNearest, 202);
  std::vector<double> w64(static_cast<size_t>(n));
  const auto w_count = quantize<double>(acc.data(), w64.data(), n, w_format, Rounding::kNearest, 303);
  std::vector<float> w(w64.begin(), w64.end());
  EXPECT_TRUE(same_bits(acc, fused_acc));
  EXPECT_TRUE(same_bits(w, fused_w));
  expect_counts_equal(gw_count, fused.gradient, "gradient vs quantize");
  expect_counts_equal(acc_count, fused.accumulator, "accumulator vs quantize");
  expect_counts_equal(w_count, fused.weight, "weight vs quantize");
  if (gw) EXPECT_GT(fused.gradient.total(), 0); // the inputs do saturate
}

INSTANTIATE_TEST_SUITE_P(Variants, AccumulatorUpdate,
                         testing::Values(UpdateCase{"NearestClipped", true, Rounding::kNearest, 1.0},
                                         UpdateCase{"NearestUnclipped", true, Rounding::kNearest, 0.0},
                                         UpdateCase{"GradientOnItsGrid", false, Rounding::kNearest, 1.0},
                                         UpdateCase{"StochasticGradient", true, Rounding::kStochastic, 1.0}),
                         [](const testing::TestParamInfo<UpdateCase>& info) { return std::string(info.param.name); });

} // namespace
} // namespace fxnn
