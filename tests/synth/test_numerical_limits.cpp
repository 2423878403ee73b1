// Numerical edge cases of synthesis and of the networks it reads (docs/synthesis.md section 17):
// each gets a diagnosis or a defined meaning, never a wrong result.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>

#include "../floatnet/onnx_builder.h"
#include "../support/error_message.h"
#include "fxnn/floatnet/nnet_import.h"
#include "fxnn/floatnet/onnx_import.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/synth/error_attack.h"
#include "fxnn/synth/float64_error.h"
#include "fxnn/synth/synthesize.h"
#include "synth_test_util.h"

namespace fxnn::synth {
namespace {

using testing_support::error_message;
using testing_support::OnnxBuilder;

/// The network evaluated in plain binary64 (what a float64 implementation computes).
std::vector<double> evaluate_in_double(const floatnet::FloatNetwork& net, const std::vector<double>& x) {
  std::vector<double> current = x;
  for (const auto& layer : net.layers) {
    std::vector<double> next(static_cast<size_t>(layer.outputs()));
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      double z = layer.bias(i);
      for (int64_t j = 0; j < layer.inputs(); ++j) z += layer.weight(i, j) * current[static_cast<size_t>(j)];
      next[static_cast<size_t>(i)] = static_cast<double>(floatnet::activate(layer.activation, layer.clip, z));
    }
    current = next;
  }
  return current;
}

TEST(NumericalLimits, ZeroWidthIntervalIsAConstantInput) {
  // lo = hi is allowed: that input is the constant lo, quantized like any other value.
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 6, 1}, 3);
  const InputBox box = parse_input_box("0.3:0.3,-1:1");
  SynthesisOptions o;
  o.method = Method::kLp;
  const SynthesisReport r = synthesize(net, box, o);
  ASSERT_EQ(r.status, SynthesisStatus::kCertified) << r.message;
  EXPECT_EQ(r.ranges.input_lo[0], 0.3);
  EXPECT_EQ(r.ranges.input_hi[0], 0.3);
  EXPECT_EQ(r.quantized->input_code_lo[0], r.quantized->input_code_hi[0]); // one code
  // The attack moves the other input only, and stays within the certified bound.
  std::vector<AttackStart> starts;
  for (double x1 : {-1.0, -0.2, 0.7})
    starts.push_back({{0.3, x1}, fixed_point_error(net, *r.quantized, {0.3, x1}), "random"});
  const AttackResult a = attack_error_bound(net, box, *r.quantized, starts, AttackOptions{2000, 2});
  EXPECT_EQ(a.input[0], 0.3);
  EXPECT_GT(a.evaluations, 0);
  EXPECT_LE(a.error, r.certificate->bound);

  // A box that is a single point: nothing to search, still certified.
  const InputBox point = parse_input_box("0.3:0.3,0:0");
  const SynthesisReport p = synthesize(net, point, o);
  ASSERT_EQ(p.status, SynthesisStatus::kCertified) << p.message;
  const AttackResult none = attack_error_bound(
      net, point, *p.quantized, {{{0.3, 0.0}, fixed_point_error(net, *p.quantized, {0.3, 0.0}), "centre"}},
      AttackOptions{2000, 8});
  EXPECT_EQ(none.evaluations, 0);
  EXPECT_LE(none.error, p.certificate->bound);
}

TEST(NumericalLimits, Float64EvaluationErrorBoundsWhatBinary64Computes) {
  const floatnet::FloatNetwork net = synth_testing::random_network({4, 16, 16, 2}, 9, 3.0);
  const InputBox box = synth_testing::uniform_box(4, -2.0, 2.0);
  const double bound = float64_evaluation_error(net, analyze_ranges(net, box, RangeMode::kInterval));
  std::mt19937_64 rng(4);
  double worst = 0;
  for (int k = 0; k < 2000; ++k) {
    std::vector<double> x;
    for (const auto& d : box.dims) x.push_back(std::uniform_real_distribution<double>(d.lo, d.hi)(rng));
    const auto exact = net.evaluate(std::vector<long double>(x.begin(), x.end()));
    const auto computed = evaluate_in_double(net, x);
    for (size_t o = 0; o < exact.size(); ++o)
      worst = std::max(worst, static_cast<double>(std::fabs(static_cast<long double>(computed[o]) - exact[o])));
  }
  EXPECT_LE(worst, bound);
  std::printf("float64 evaluation error: bound %.3g, largest seen %.3g\n", bound, worst);
  // An a priori bound (every rounding at its worst): larger than what is seen, but not vacuous.
  EXPECT_GT(bound, 0.0);
  EXPECT_LT(bound, 1e4 * worst);
}

TEST(NumericalLimits, EpsBelowTheFloat64EvaluationErrorIsRefusedWithThatReason) {
  const floatnet::FloatNetwork net = synth_testing::random_network({3, 8, 2}, 5, 2.0);
  const InputBox box = synth_testing::uniform_box(3, -1.0, 1.0);
  const double e64 = float64_evaluation_error(net, analyze_ranges(net, box, RangeMode::kInterval));
  for (Method method : {Method::kLp, Method::kMilp, Method::kAster}) {
    SynthesisOptions o;
    o.method = method;
    o.ranges = RangeMode::kInterval; // the ranges of e64
    o.partition = 1;
    o.eps = e64 / 2;
    const SynthesisReport r = synthesize(net, box, o);
    EXPECT_EQ(r.status, SynthesisStatus::kInfeasible);
    EXPECT_NE(r.message.find("is below the float64 evaluation error of this network on the box"), std::string::npos)
        << r.message;
    EXPECT_EQ(r.attempts, 0); // no solver ran
    EXPECT_EQ(to_json(r)["float64_evaluation_error"].get<double>(), e64);
  }
  // Just above it the formats are looked for (and not found within W = 32: another diagnosis).
  SynthesisOptions o;
  o.eps = e64 * 2;
  const SynthesisReport r = synthesize(net, box, o);
  EXPECT_EQ(r.message.find("float64 evaluation error"), std::string::npos) << r.message;
  EXPECT_GT(r.attempts, 0);
}

TEST(NumericalLimits, RangesBeyondTheAccumulatorAreDiagnosedNotWrapped) {
  // Values of 1e30 need ~100 integer bits: no formats within W = 32, A = 64; the diagnosis names
  // the integer bits the sums need and what A = 64 leaves.
  const floatnet::FloatNetwork net = synth_testing::random_network({2, 4, 1}, 2);
  const InputBox box = parse_input_box("-1e30:1e30,0:1");
  for (Method method : {Method::kLp, Method::kMilp}) {
    SynthesisOptions o;
    o.method = method;
    o.eps = 1e20; // above the float64 evaluation error of such values
    const SynthesisReport r = synthesize(net, box, o);
    EXPECT_EQ(r.status, SynthesisStatus::kInfeasible) << r.message;
    EXPECT_NE(r.message.find("A = 64"), std::string::npos) << r.message;
    EXPECT_NE(r.message.find("integer bits"), std::string::npos) << r.message;
  }
}

TEST(NumericalLimits, FixedPointNetworkWhoseAccumulatorExceedsInt64IsRefused) {
  // A dense node of s32 weights on s32 inputs, 4 terms: |acc| reaches 2^64, beyond int64.
  ir::Network net;
  net.name = "wide";
  net.input_shape = {4};
  net.input_format = Format(32, 0, true);
  ir::Node dense;
  dense.name = "fc";
  dense.op = ir::OpKind::kDense;
  dense.inputs = {net.input_name};
  dense.output_format = Format(16, 0, true);
  dense.output_shape = {1};
  dense.weight = ir::IntTensor{{1, 4}, std::vector<int64_t>(4, -(int64_t{1} << 31)), Format(32, 0, true)};
  dense.accumulator_bits = 64;
  dense.requantize = ir::Requantize{{1}, 0, {0}, 40, Rounding::kFloor, -32768, 32767};
  net.nodes = {dense};
  net.output = "fc";
  const std::string message = error_message([&] { net.validate(); });
  EXPECT_NE(message.find("accumulator_bits 64 too small: the worst case |acc| is >= 2^64"), std::string::npos)
      << message;
}

TEST(NumericalLimits, NonFiniteWeightsOfImportedNetworksAreRefused) {
  const std::string nnet = "1,1,1,1,\n1,1,\n0,\n-1,\n1,\n0,0,\n1,1,\n2.5,\n0.5,\n";
  EXPECT_NO_THROW(floatnet::parse_nnet(nnet, "ok.nnet"));
  for (const std::string bad : {"nan", "inf", "-inf", "1e999"}) {
    std::string text = nnet;
    text.replace(text.find("2.5"), 3, bad);
    EXPECT_NE(error_message([&] {
                floatnet::parse_nnet(text, "bad.nnet");
              }).find("bad.nnet:8: '" + bad + "' is not a finite number"),
              std::string::npos)
        << bad;
  }
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    OnnxBuilder b(9, {-1, 2});
    b.constant("W", {2, 1}, {1.0f, bad}, true);
    b.node("MatMul", {"x", "W"}, "y", "dense");
    const std::string message = error_message([&] { floatnet::parse_onnx(b.bytes("y"), "bad.onnx"); });
    EXPECT_NE(message.find("bad.onnx: initializer 'W': holds a value that is not finite"), std::string::npos)
        << message;
  }
  // Finite constants whose product is not: nine MatMuls by 3e38 fold into one weight of 2e346.
  OnnxBuilder b(9, {-1, 1});
  b.constant("W", {1, 1}, {3e38f}, true);
  std::string value = "x";
  for (int k = 0; k < 9; ++k) {
    b.node("MatMul", {value, "W"}, "m" + std::to_string(k), "dense" + std::to_string(k));
    value = "m" + std::to_string(k);
  }
  const std::string message = error_message([&] { floatnet::parse_onnx(b.bytes(value), "big.onnx"); });
  EXPECT_NE(message.find("big.onnx"), std::string::npos) << message;
  EXPECT_NE(message.find("a weight or bias is not finite"), std::string::npos) << message;
}

} // namespace
} // namespace fxnn::synth
