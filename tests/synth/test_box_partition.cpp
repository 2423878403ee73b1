// The partitioned error analysis (docs/synthesis.md section 5.1): parts that cover the box, ranges and
// gains that are the worst of the parts, and a certificate that stays sound and gets tighter.

#include "fxnn/synth/box_partition.h"

#include <gtest/gtest.h>

#include <random>

#include "fxnn/synth/certificate.h"
#include "fxnn/synth/error_model.h"
#include "fxnn/synth/synthesize.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

double volume(const std::vector<double>& lo, const std::vector<double>& hi) {
  double v = 1.0;
  for (size_t j = 0; j < lo.size(); ++j) v *= hi[j] - lo[j];
  return v;
}

TEST(BoxPartition, PartsCoverTheBoxAndEncloseTheirValues) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 8, 8, 2}, 5);
  const InputBox box = synth_testing::uniform_box(3, -1.0, 1.0);
  const NetworkRanges r = partition_box(net, box, RangeMode::kSymbolic, 16, 1e-4).ranges;
  ASSERT_EQ(r.parts.size(), 16u);
  // Bisection: the parts tile the box (their volumes add up to its volume, every one inside it).
  double total = 0.0;
  for (const NetworkRanges& part : r.parts) {
    EXPECT_TRUE(part.parts.empty());
    for (size_t j = 0; j < box.size(); ++j) {
      EXPECT_GE(part.input_lo[j], box.dims[j].lo);
      EXPECT_LE(part.input_hi[j], box.dims[j].hi);
    }
    total += volume(part.input_lo, part.input_hi);
  }
  EXPECT_NEAR(total, volume(r.input_lo, r.input_hi), 1e-12);
  // Each part's ranges hold for its inputs, and the union's for all of them.
  for (size_t p = 0; p < r.parts.size(); ++p) {
    InputBox part_box;
    for (size_t j = 0; j < box.size(); ++j) part_box.dims.push_back({r.parts[p].input_lo[j], r.parts[p].input_hi[j]});
    synth_testing::expect_enclosed(net, part_box, r.parts[p], 10 + p);
  }
  synth_testing::expect_enclosed(net, box, r, 3);
  // The union is never wider than the whole box's own analysis.
  const NetworkRanges whole = analyze_ranges(net, box, RangeMode::kSymbolic);
  for (size_t l = 0; l < whole.layers.size(); ++l)
    for (size_t i = 0; i < whole.layers[l].pre_lo.size(); ++i) {
      EXPECT_GE(r.layers[l].pre_lo[i], whole.layers[l].pre_lo[i]);
      EXPECT_LE(r.layers[l].pre_hi[i], whole.layers[l].pre_hi[i]);
    }
}

TEST(BoxPartition, OnePartIsTheWholeBoxAndAPointIsNotCut) {
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 4, 1}, 2);
  const NetworkRanges one = partition_box(net, parse_input_box("0:1,0:1"), RangeMode::kInterval, 1, 1e-4).ranges;
  EXPECT_TRUE(one.parts.empty());
  const NetworkRanges point = partition_box(net, parse_input_box("0.5:0.5,1:1"), RangeMode::kSymbolic, 8, 1e-4).ranges;
  EXPECT_TRUE(point.parts.empty());
  EXPECT_THROW(partition_box(net, parse_input_box("0:1,0:1"), RangeMode::kSymbolic, 0, 1e-4), std::invalid_argument);
}

TEST(BoxPartition, GainsAreTheWorstOfThePartsAndKeepEachPart) {
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 6, 6, 1}, 7);
  const PartitionedBox analysed = partition_box(net, parse_input_box("-1:1,-1:1"), RangeMode::kSymbolic, 8, 1e-4);
  const NetworkRanges& r = analysed.ranges;
  ASSERT_EQ(r.parts.size(), 8u);
  const ErrorGains all = error_gains(net, r, 1e-4);
  ASSERT_EQ(all.parts.size(), r.parts.size());
  std::vector<ErrorGains> each;
  for (const NetworkRanges& part : r.parts) each.push_back(error_gains(net, part, 1e-4));
  // The parts keep their output layers' gains, those of their ranges.
  for (size_t p = 0; p < each.size(); ++p) {
    EXPECT_TRUE(all.parts[p].gain.back() == each[p].gain.back());
    EXPECT_EQ(all.parts[p].gain.front().size(), 0);
  }
  // The gains the partition kept are those of its parts' ranges.
  ASSERT_EQ(analysed.gains.parts.size(), all.parts.size());
  for (size_t l = 0; l < all.gain.size(); ++l) {
    EXPECT_TRUE(analysed.gains.gain[l] == all.gain[l]);
    EXPECT_TRUE(analysed.gains.pre_gain[l] == all.pre_gain[l]);
    EXPECT_EQ(analysed.gains.stable_slack[l], all.stable_slack[l]);
  }
  for (const ErrorGains& part : each)
    for (size_t l = 0; l < all.gain.size(); ++l) {
      EXPECT_TRUE((all.gain[l].array() >= part.gain[l].array()).all());
      EXPECT_TRUE((all.pre_gain[l].array() >= part.pre_gain[l].array()).all());
      for (size_t i = 0; i < all.stable_slack[l].size(); ++i) {
        EXPECT_LE(all.stable_slack[l][i], part.stable_slack[l][i]);
        EXPECT_EQ(all.dead[l][i], std::isfinite(all.stable_slack[l][i]));
      }
    }
}

TEST(BoxPartition, CertificateStaysSoundAndGetsTighter) {
  // A deeper network whose neurons are unstable over the whole box: the parts settle most of them.
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 12, 12, 12, 1}, 11);
  const InputBox box = parse_input_box("-1:1,-1:1");
  SynthesisOptions o;
  o.eps = 1e-3;
  o.method = Method::kMilp;
  o.ranges = RangeMode::kSymbolic;
  o.partition = 1;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
  const NetworkRanges parts = partition_box(net, box, RangeMode::kSymbolic, 64, o.eps / 16).ranges;
  const Certificate whole = certify(net, r.ranges, *r.quantized, CertifyOptions{o.eps, o.word, o.acc, {}});
  const Certificate cut = certify(net, parts, *r.quantized, CertifyOptions{o.eps, o.word, o.acc, {}});
  ASSERT_TRUE(cut.certified) << cut.failure;
  // Threads change neither the parts nor the bound.
  const NetworkRanges threaded = partition_box(net, box, RangeMode::kSymbolic, 64, o.eps / 16, 3).ranges;
  ASSERT_EQ(threaded.parts.size(), parts.parts.size());
  for (size_t p = 0; p < parts.parts.size(); ++p) EXPECT_EQ(threaded.parts[p].input_lo, parts.parts[p].input_lo);
  EXPECT_EQ(certify(net, threaded, *r.quantized, CertifyOptions{o.eps, o.word, o.acc, {}, 3}).bound_exact,
            cut.bound_exact);
  EXPECT_LT(cut.bound, 0.8 * whole.bound);
  for (size_t l = 0; l < cut.layers.size(); ++l) EXPECT_LE(cut.layers[l].max_error, whole.layers[l].max_error);
  // The bound still holds on sampled inputs.
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  double worst = 0.0;
  for (int k = 0; k < 5000; ++k) {
    const std::vector<double> x{u(rng), u(rng)};
    const std::vector<double> fixed = evaluate_fixed_real(*r.quantized, x);
    const std::vector<long double> exact = net.evaluate(std::vector<long double>(x.begin(), x.end()));
    worst = std::max(worst, static_cast<double>(std::fabs(fixed[0] - exact[0])));
  }
  EXPECT_LE(worst, cut.bound);
  EXPECT_GT(worst, 0.0);
}

TEST(BoxPartition, SynthesisOverPartsIsCertifiedWithFewerBits) {
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 12, 12, 12, 1}, 11);
  const InputBox box = parse_input_box("-1:1,-1:1");
  for (Method method : {Method::kLp, Method::kMilp}) {
    SynthesisOptions o;
    o.eps = 1e-3;
    o.method = method;
    o.ranges = RangeMode::kSymbolic;
    o.partition = 1;
    const SynthesisReport whole = synthesize(net, box, o);
    o.partition = 64;
    const SynthesisReport cut = synthesize(net, box, o);
    ASSERT_EQ(cut.status, SynthesisStatus::kCertified) << cut.message;
    EXPECT_EQ(cut.ranges.parts.size(), 64u);
    EXPECT_LE(cut.certificate->bound, o.eps);
    EXPECT_LT(cut.size.total_bits, whole.size.total_bits) << to_string(method);
  }
  EXPECT_EQ(auto_partition(net), 256); // 37 neurons
  EXPECT_EQ(auto_partition(synth_testing::random_network({4, 500, 2}, 1)), 20);
  // Every input beyond 10 doubles the cap and the budget: AirplaneNN's shape gets 887 parts.
  EXPECT_EQ(auto_partition(synth_testing::random_network({12, 100, 100, 20, 6}, 1)), 887);
  EXPECT_EQ(auto_partition(synth_testing::random_network({12, 4, 1}, 1)), 1024);
}

} // namespace
} // namespace fxnn::synth
