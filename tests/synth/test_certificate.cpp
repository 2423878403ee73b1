// The error recurrence and the certificate against hand-computed values (docs/synthesis.md
// section 4 and 8), the rounding primitives at ties, and the rejection of bad formats.

#include "fxnn/synth/certificate.h"

#include <gtest/gtest.h>

#include <cmath>

#include "fxnn/synth/input_box.h"
#include "fxnn/synth/quantized_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {
namespace {

floatnet::DenseLayer dense(std::initializer_list<std::initializer_list<double>> w, std::initializer_list<double> b,
                           floatnet::Activation act) {
  floatnet::DenseLayer layer;
  layer.weight.resize(static_cast<Eigen::Index>(w.size()), static_cast<Eigen::Index>(w.begin()->size()));
  Eigen::Index i = 0;
  for (const auto& row : w) {
    Eigen::Index j = 0;
    for (double v : row) layer.weight(i, j++) = v;
    ++i;
  }
  layer.bias.resize(static_cast<Eigen::Index>(b.size()));
  i = 0;
  for (double v : b) layer.bias(i++) = v;
  layer.activation = act;
  return layer;
}

TEST(Rounding, RoundHalfUpAndFloorAtTies) {
  EXPECT_EQ(round_to_code(0.5, 0, Rounding::kNearest), 1);
  EXPECT_EQ(round_to_code(-0.5, 0, Rounding::kNearest), 0);
  EXPECT_EQ(round_to_code(-1.5, 0, Rounding::kNearest), -1);
  EXPECT_EQ(round_to_code(2.5, 0, Rounding::kNearest), 3);
  EXPECT_EQ(round_to_code(-0.5, 0, Rounding::kFloor), -1);
  EXPECT_EQ(round_to_code(0.3203125, 6, Rounding::kNearest), 21); // 20.5 rounds up
  EXPECT_EQ(round_to_code(-0.3203125, 6, Rounding::kNearest), -20);
  EXPECT_EQ(round_to_code(1e-300, 10, Rounding::kFloor), 0);
  EXPECT_EQ(round_to_code(-1e-300, 10, Rounding::kFloor), -1);
  EXPECT_EQ(round_to_code(-1e-300, 10, Rounding::kNearest), 0);
  EXPECT_EQ(round_to_code(3.0, -1, Rounding::kNearest), 2); // 1.5 -> 2 (step 2)
  EXPECT_THROW(round_to_code(std::ldexp(1.0, 62), 0, Rounding::kFloor), std::overflow_error);
  EXPECT_THROW(round_to_code(1.0, 0, Rounding::kStochastic), std::invalid_argument);
  // The integer shift of eq. (7): (v + 2^(s-1)) >> s and v >> s.
  EXPECT_EQ(static_cast<int64_t>(shift_round(-3, 1, Rounding::kNearest)), -1);
  EXPECT_EQ(static_cast<int64_t>(shift_round(-3, 1, Rounding::kFloor)), -2);
  EXPECT_EQ(static_cast<int64_t>(shift_round(5, 1, Rounding::kNearest)), 3);
  EXPECT_EQ(static_cast<int64_t>(shift_round(5, 0, Rounding::kNearest)), 5);
}

// One linear neuron z = 0.75 x + 0.3203125, x in [0, 1]; F_in = 4, Fw = 2, Fa = 6, F = 3, nearest.
//   input:  e_x = 2^-5
//   weight: 0.75 * 2^2 = 3 exactly, delta_w = 0
//   bias:   0.3203125 * 2^6 = 20.5 -> 21, delta_b = 21/64 - 0.3203125 = 2^-7
//   eq. (14): E = 0.75 * 2^-5 + 2^-7 = 1/32
//   shift s = 3: eq. (12) 2^(s-1) 2^-6 = 1/16;  e = 1/32 + 1/16 = 3/32
TEST(Certificate, OneNeuronByHand) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{0.75}}, {0.3203125}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("0:1");
  const FormatPlan plan{{4}, {{NeuronFormat{3, 2, 6}}}};
  const QuantizedNetwork q = quantize_network(net, box, plan, Rounding::kNearest);
  EXPECT_EQ(q.layers[0].weight[0], 3);
  EXPECT_EQ(q.layers[0].bias[0], 21);
  const Certificate c =
      certify(net, analyze_ranges(net, box, RangeMode::kInterval), q, CertifyOptions{0.1, 32, 64, {}});
  EXPECT_EQ(c.bound, 3.0 / 32);
  EXPECT_EQ(c.bound_exact, "3/32");
  EXPECT_TRUE(c.certified);
  EXPECT_TRUE(c.overflow_free);
  EXPECT_EQ(c.input_bits, 6); // codes 0..16
  // The same formats against a smaller eps: rejected, the bound named.
  const Certificate strict =
      certify(net, analyze_ranges(net, box, RangeMode::kInterval), q, CertifyOptions{0.09, 32, 64, {}});
  EXPECT_FALSE(strict.certified);
  EXPECT_NE(strict.failure.find("exceeds eps"), std::string::npos);
}

// x in [0, 1]; layer 1: h1 = relu(x), h2 = relu(-x - 1) (dead); layer 2: y = 0.5 h1 + 2 h2; floor.
// F_in = 3 (e_x = 1/8); layer 1 Fw = 1, Fa = 4, F = 2 (s = 2); layer 2 Fw = 1, Fa = 3, F = 3 (s = 0).
//   h1: E = 1/8, shift (2^2 - 1) 2^-4 = 3/16, e = 5/16
//   h2: E = 1/8, shift 3/16, but z <= -1 and -1 + 5/16 < 0: both outputs are 0, e = 0 (eq. (17))
//   y:  E = 0.5 * 5/16 + 2 * 0 = 5/32, no shift: e = 5/32
TEST(Certificate, TwoLayersWithADeadNeuronByHand) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{1.0}, {-1.0}}, {0.0, -1.0}, floatnet::Activation::kRelu),
                dense({{0.5, 2.0}}, {0.0}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("0:1");
  const FormatPlan plan{{3}, {{NeuronFormat{2, 1, 4}, NeuronFormat{2, 1, 4}}, {NeuronFormat{3, 1, 3}}}};
  const QuantizedNetwork q = quantize_network(net, box, plan, Rounding::kFloor);
  const NetworkRanges ranges = analyze_ranges(net, box, RangeMode::kInterval);
  const Certificate c = certify(net, ranges, q, CertifyOptions{0.2, 32, 64, {}});
  EXPECT_EQ(c.layers[0].max_error, 5.0 / 16);
  EXPECT_EQ(c.bound, 5.0 / 32);
  EXPECT_EQ(c.bound_exact, "5/32");
  EXPECT_TRUE(c.certified);
  // Measured errors stay below it, on a fine grid of inputs.
  double worst = 0;
  for (int k = 0; k <= 1000; ++k) {
    const double x = k / 1000.0;
    worst = std::max(worst, std::fabs(evaluate_fixed_real(q, {x})[0] - net.evaluate(std::vector<double>{x})[0]));
  }
  EXPECT_LE(worst, c.bound);
  EXPECT_GT(worst, 0.5 * c.bound); // and the bound is not loose here
}

// eq. (20e): two neurons whose weights round alike, subtracted by the next layer. x in [1, 2];
// layer 1: h1 = h2 = 0.6 x, weights at Fw = 1 (0.6 -> 0.5, each off by 0.1 x in [0.1, 0.2]);
// layer 2: y = h1 - h2 (exact). The roundings are the same function of x and cancel: y^ = y = 0.
// As two intervals they would add up to 0.1; as affine forms in the input's symbol they cancel, and
// only the floating-point padding is left.
TEST(Certificate, WeightRoundingsInTheInputsSymbolsCancel) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{0.6}, {0.6}}, {0.0, 0.0}, floatnet::Activation::kRelu),
                dense({{1.0, -1.0}}, {0.0}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("1:2");
  const FormatPlan plan{{12}, {{NeuronFormat{14, 1, 14}, NeuronFormat{14, 1, 14}}, {NeuronFormat{15, 1, 15}}}};
  const QuantizedNetwork q = quantize_network(net, box, plan, Rounding::kNearest);
  EXPECT_EQ(q.layers[0].weight[0], 1); // 0.6 * 2 = 1.2 -> 1
  for (RangeMode mode : {RangeMode::kInterval, RangeMode::kSymbolic}) {
    const Certificate c = certify(net, analyze_ranges(net, box, mode), q, CertifyOptions{1e-6, 32, 64, {}});
    EXPECT_GE(c.layers[0].max_error, 0.2); // each neuron alone is off by up to 0.2
    EXPECT_LT(c.bound, 1e-9) << to_string(mode);
    EXPECT_TRUE(c.certified) << c.failure;
    for (int k = 0; k <= 200; ++k) {
      const double x = 1.0 + k / 200.0;
      EXPECT_LE(std::fabs(evaluate_fixed_real(q, {x})[0] - net.evaluate(std::vector<double>{x})[0]), c.bound);
    }
  }
}

TEST(Certificate, RejectsFormatsThatOverflowTheWords) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{0.75}}, {0.3203125}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("0:1");
  const QuantizedNetwork q = quantize_network(net, box, FormatPlan{{4}, {{NeuronFormat{3, 2, 6}}}}, Rounding::kNearest);
  const NetworkRanges ranges = analyze_ranges(net, box, RangeMode::kInterval);
  const Certificate narrow = certify(net, ranges, q, CertifyOptions{1.0, 5, 64, {}});
  EXPECT_FALSE(narrow.certified);
  EXPECT_FALSE(narrow.overflow_free);
  EXPECT_NE(narrow.failure.find("the input codes need 6 bits > W = 5"), std::string::npos) << narrow.failure;
  const Certificate short_acc = certify(net, ranges, q, CertifyOptions{1.0, 32, 6, {}});
  EXPECT_NE(short_acc.failure.find("accumulator needs"), std::string::npos) << short_acc.failure;
}

TEST(Certificate, PlansMustAlignProducts) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{0.75}}, {0.0}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("0:1");
  EXPECT_THROW(quantize_network(net, box, FormatPlan{{4}, {{NeuronFormat{3, 2, 5}}}}, Rounding::kNearest),
               std::invalid_argument); // Fa = 5 < Fw + F_in = 6
  EXPECT_THROW(quantize_network(net, box, FormatPlan{{4}, {{NeuronFormat{7, 2, 6}}}}, Rounding::kNearest),
               std::invalid_argument); // F > Fa
}

TEST(Certificate, IntegerReferenceChecksOverflow) {
  floatnet::FloatNetwork net;
  net.layers = {dense({{1.0}}, {0.0}, floatnet::Activation::kLinear)};
  const InputBox box = parse_input_box("0:1000");
  const QuantizedNetwork q =
      quantize_network(net, box, FormatPlan{{20}, {{NeuronFormat{20, 20, 40}}}}, Rounding::kFloor);
  EXPECT_THROW(evaluate_fixed(q, {q.input_code_hi[0]}, 16), IntegerOverflow); // 1000 * 2^20 needs 31 bits
  EXPECT_EQ(evaluate_fixed(q, {q.input_code_hi[0]}, 32)[0], q.input_code_hi[0]);
}

} // namespace
} // namespace fxnn::synth
