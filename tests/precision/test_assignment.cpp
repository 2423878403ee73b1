#include "fxnn/precision/assignment.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fxnn {
namespace {

GradientTrack track(std::vector<double> sigma) {
  GradientTrack t;
  t.sigma = std::move(sigma);
  return t;
}

/// Two layers: a hidden layer (W, A, GW, GA, acc) and an output layer (W, GW, GA, acc).
ProbeStats two_layer_stats() {
  ProbeStats s;
  s.lr_min = 0.01;
  LayerStats hidden;
  hidden.name = "fc1";
  hidden.has_activation = true;
  hidden.has_activation_gradient = true;
  hidden.weight_gradient = track({0.02, 0.005});     // sigma_max 0.02, sigma_min 0.005
  hidden.activation_gradient = track({1e-4, 3e-4});  // sigma_max 3e-4
  hidden.j_lambda_max = 16.0;
  hidden.noise_gain_weight = 64.0;
  hidden.noise_gain_activation = 1.0;
  LayerStats out;
  out.name = "fc2";
  out.has_activation_gradient = true;
  out.weight_gradient = track({0.1, 0.1});
  out.activation_gradient = track({0.01});
  out.j_lambda_max = 1.0;
  out.noise_gain_weight = 4.0;
  s.layers = {hidden, out};
  return s;
}

const AssignedTensor& find(const Assignment& a, const std::string& layer, TensorClass c) {
  for (const auto& t : a.tensors)
    if (t.layer == layer && t.tensor_class == c) return t;
  throw std::out_of_range(layer);
}

TEST(Assignment, EqualizesNoiseGainsAndPicksTheSmallestBmin) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01});
  // E_min = 1 (fc1.A): offsets round(log2 sqrt(E / E_min)) = fc1.W +3, fc1.A 0, fc2.W +1.
  // bound(B) = 64 * 4^(1-(B+3)) + 1 * 4^(1-B) + 4 * 4^(1-(B+1)) = 4^(1-B) * (1 + 1 + 1) = 3 * 4^(1-B).
  for (const auto& c : a.candidates) EXPECT_NEAR(c.bound, 3 * std::pow(4.0, 1 - c.b_min), 1e-12) << c.b_min;
  // 3 * 4^(1-B) <= 0.01  <=>  B >= 1 + log4(300) = 5.11: B_min = 6.
  EXPECT_EQ(a.b_min, 6);
  EXPECT_EQ(find(a, "fc1", TensorClass::kWeight).format.str(), "s9.8");    // 6 + 3 bits, range 1
  EXPECT_EQ(find(a, "fc1", TensorClass::kActivation).format.str(), "u6.5"); // 6 bits, range 2
  EXPECT_EQ(find(a, "fc2", TensorClass::kWeight).format.str(), "s7.6");
}

TEST(Assignment, GradientAndAccumulatorFormatsFollowTheSpec) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01});
  // fc1.GW: sigma~ = 0.02 / sqrt(0.1) = 0.0632; r = 2^ceil(log2(0.126)) = 2^-2;
  //         step = 2^floor(log2(0.005 / 4)) = 2^-10; B = -2 + 10 + 1 = 9.
  const Format gw = find(a, "fc1", TensorClass::kWeightGradient).format;
  EXPECT_EQ(gw.bits, 9);
  EXPECT_EQ(gw.frac, 10);
  EXPECT_DOUBLE_EQ(gw.range(), 0.25);
  // fc1.GA: r = 2^ceil(log2(8 * 3e-4 / sqrt(0.1))) = 2^ceil(log2(0.00759)) = 2^-7;
  //         step = 2^floor(log2(2^-10 / sqrt(16))) = 2^-12; B = -7 + 12 + 1 = 6.
  const Format ga = find(a, "fc1", TensorClass::kActivationGradient).format;
  EXPECT_EQ(ga.str(), "s6.12");
  EXPECT_DOUBLE_EQ(ga.range(), std::ldexp(1.0, -7));
  // fc1.acc: step = 2^floor(log2(0.01 * 2^-10)) = 2^-17; B = 17 + 1 = 18, range 1.
  EXPECT_EQ(find(a, "fc1", TensorClass::kAccumulator).format.str(), "s18.17");
  // The output layer has no A point.
  for (const auto& t : a.tensors) EXPECT_FALSE(t.layer == "fc2" && t.tensor_class == TensorClass::kActivation);
}

TEST(Assignment, StepCoarserThanTheRangeGetsTheNarrowestSignedWord) {
  auto s = two_layer_stats();
  s.layers[0].j_lambda_max = 1e-12; // allows an enormous G^(A) step
  const auto ga = find(assign_precisions(s, AssignOptions{0.01}), "fc1", TensorClass::kActivationGradient).format;
  EXPECT_EQ(ga.bits, 2);
  EXPECT_DOUBLE_EQ(ga.range(), std::ldexp(1.0, -7)); // the range stays that of the statistic
}

TEST(Assignment, PlanCarriesEveryFormatAndItsStatistic) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01});
  for (const auto& t : a.tensors) {
    EXPECT_EQ(*a.plan.resolve(t.layer, t.tensor_class), (QuantizerSpec{t.format, Rounding::kNearest}));
    EXPECT_FALSE(a.plan.notes.at(t.layer + "." + to_string(t.tensor_class)).empty());
  }
  // The written plan reads back to the same formats.
  const auto again = PrecisionPlan::parse(a.plan.to_yaml(), "again.yaml");
  for (const auto& t : a.tensors) EXPECT_EQ(again.resolve(t.layer, t.tensor_class)->format, t.format);
}

TEST(Assignment, UndefinedStatisticsAreErrorsNamingTheLayer) {
  auto s = two_layer_stats();
  s.layers[1].weight_gradient = track({0.0});
  try {
    assign_precisions(s, AssignOptions{0.01});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer fc2"), std::string::npos) << e.what();
  }
  auto missing = two_layer_stats();
  missing.layers[0].noise_gain_activation.reset();
  EXPECT_THROW(assign_precisions(missing, AssignOptions{0.01}), std::runtime_error);
  EXPECT_THROW(assign_precisions(two_layer_stats(), AssignOptions{0.0}), std::invalid_argument);
}

TEST(Assignment, JsonRoundTrip) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01});
  const auto b = Assignment::from_json(a.to_json(), "a.json");
  EXPECT_EQ(b.b_min, a.b_min);
  ASSERT_EQ(b.tensors.size(), a.tensors.size());
  EXPECT_EQ(b.tensors[3].format, a.tensors[3].format);
}

} // namespace
} // namespace fxnn
