#include "fxnn/precision/assignment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace fxnn {
namespace {

GradientTrack track(std::vector<double> sigma) {
  GradientTrack t;
  t.sigma = std::move(sigma);
  return t;
}

PathGainTrack path(const std::string& to, const std::string& kind, std::vector<double> lambda) {
  return {to, kind, {}, std::move(lambda)};
}

/// Two layers: a hidden layer (W, A, GW, GA, acc) and an output layer (W, GW, GA, acc).
ProbeStats two_layer_stats() {
  ProbeStats s;
  s.lr_min = 0.01;
  LayerStats hidden;
  hidden.name = "fc1";
  hidden.has_activation = true;
  hidden.has_activation_gradient = true;
  hidden.weight_gradient = track({0.02, 0.005});          // sigma_max 0.02, sigma_min 0.005
  hidden.activation_gradient = track({2e-3, 3e-3});       // sigma_min 2e-3, sigma_max 3e-3
  hidden.ga_paths = {path("fc1", "direct", {4.0, 16.0})}; // the largest over the epochs is used
  hidden.noise_gain_weight = 64.0;
  hidden.noise_gain_activation = 1.0;
  LayerStats out;
  out.name = "fc2";
  out.has_activation_gradient = true;
  out.weight_gradient = track({0.1, 0.1});
  out.activation_gradient = track({0.01});
  out.ga_paths = {path("fc2", "direct", {1.0})};
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
  EXPECT_EQ(find(a, "fc1", TensorClass::kWeight).format.str(), "s9.8");     // 6 + 3 bits, range 1
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
  // fc1.GA: r = 2^ceil(log2(8 * 3e-3 / sqrt(0.1))) = 2^ceil(log2(0.0759)) = 2^-3;
  //         noise budget: step = 2^-10 / sqrt(1 * 16) = 2^-12 (eq. (15)); validity: 2e-3 / 4 = 5e-4 > 2^-12,
  //         so the budget sets it; B = -3 + 12 + 1 = 10.
  const auto& ga = find(a, "fc1", TensorClass::kActivationGradient);
  EXPECT_EQ(ga.format.str(), "s10.12");
  EXPECT_DOUBLE_EQ(ga.format.range(), std::ldexp(1.0, -3));
  EXPECT_EQ(ga.rule, StepRule::kNoiseBudget);
  // fc1.acc: step = 2^floor(log2(0.01 * 2^-10)) = 2^-17; B = 17 + 1 = 18, range 1.
  EXPECT_EQ(find(a, "fc1", TensorClass::kAccumulator).format.str(), "s18.17");
  // The output layer has no A point.
  for (const auto& t : a.tensors) EXPECT_FALSE(t.layer == "fc2" && t.tensor_class == TensorClass::kActivation);
}

TEST(Assignment, TheValidityBoundCapsAStepTheNoiseBudgetWouldAllow) {
  auto s = two_layer_stats();
  s.layers[0].ga_paths = {path("fc1", "direct", {1e-12})}; // the budget allows an enormous G^(A) step
  const auto& ga = find(assign_precisions(s, AssignOptions{0.01}), "fc1", TensorClass::kActivationGradient);
  // eq. (16): step <= sigma_min / 4 = 5e-4, so 2^-11; the range stays that of the statistic.
  EXPECT_EQ(ga.format.str(), "s9.11");
  EXPECT_EQ(ga.rule, StepRule::kValidity);
}

TEST(Assignment, PathsIntoOneWeightLayerShareItsBudget) {
  auto s = two_layer_stats();
  // fc2.GA also reaches fc1 (as through an identity shortcut): two points share fc1's G^(W) budget.
  s.layers[1].ga_paths.push_back(path("fc1", "identity", {16.0}));
  const auto a = assign_precisions(s, AssignOptions{0.01});
  // fc1.GA: 2^-10 / sqrt(2 * 16) = 2^-12.5, floored to 2^-13.
  EXPECT_EQ(find(a, "fc1", TensorClass::kActivationGradient).format.frac, 13);
  // fc2.GA: min(fc2 path 2^-6 / sqrt(1 * 1), fc1 path 2^-13) = 2^-13, set by the identity path.
  const auto& ga2 = find(a, "fc2", TensorClass::kActivationGradient);
  EXPECT_EQ(ga2.format.frac, 13);
  EXPECT_NE(ga2.statistic.find("via fc1 (identity"), std::string::npos) << ga2.statistic;
}

TEST(Assignment, AFloorIsReportedNotHidden) {
  auto s = two_layer_stats();
  for (auto& l : s.layers) {
    l.noise_gain_weight = 1e-6;
    if (l.noise_gain_activation) l.noise_gain_activation = 1e-6;
  }
  const auto a = assign_precisions(s, AssignOptions{0.5}); // B_min = 1: a weight needs its sign bit
  EXPECT_EQ(a.b_min, 1);
  const auto& w = find(a, "fc2", TensorClass::kWeight);
  EXPECT_EQ(w.format.bits, 2);
  EXPECT_EQ(w.rule, StepRule::kFloor);
  const auto floored = floored_tensors(a);
  EXPECT_NE(std::find(floored.begin(), floored.end(), "fc2.W"), floored.end());
  EXPECT_NE(a.plan.notes.at("fc2.W").find("floor"), std::string::npos) << a.plan.notes.at("fc2.W");
}

TEST(Assignment, EqualizationOffsetsRoundTiesToEven) {
  auto s = two_layer_stats();
  // log2 sqrt(E / E_min) = 0.5 and 2.5 exactly: ties, rounded to 0 and 2 (not 1 and 3).
  s.layers[0].noise_gain_activation = 1.0;
  s.layers[0].noise_gain_weight = 2.0;
  s.layers[1].noise_gain_weight = 32.0;
  const auto a = assign_precisions(s, AssignOptions{0.01});
  EXPECT_EQ(find(a, "fc1", TensorClass::kWeight).format.bits, a.b_min);
  EXPECT_EQ(find(a, "fc2", TensorClass::kWeight).format.bits, a.b_min + 2);
}

TEST(Assignment, StochasticGradientRoundingIsAnOptionOfThePlan) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01, Rounding::kStochastic});
  EXPECT_EQ(a.plan.resolve("fc1", TensorClass::kActivationGradient)->rounding, Rounding::kStochastic);
  EXPECT_EQ(a.plan.resolve("fc1", TensorClass::kWeightGradient)->rounding, Rounding::kStochastic);
  EXPECT_EQ(a.plan.resolve("fc1", TensorClass::kWeight)->rounding, Rounding::kNearest);
  EXPECT_EQ(a.plan.resolve("fc1", TensorClass::kAccumulator)->rounding, Rounding::kNearest);
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
  auto no_gain = two_layer_stats();
  no_gain.layers[0].ga_paths.clear();
  try {
    assign_precisions(no_gain, AssignOptions{0.01});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("layer fc1: no back-propagated gain"), std::string::npos) << e.what();
  }
  EXPECT_THROW(assign_precisions(two_layer_stats(), AssignOptions{0.0}), std::invalid_argument);
}

TEST(Assignment, JsonRoundTrip) {
  const auto a = assign_precisions(two_layer_stats(), AssignOptions{0.01});
  const auto b = Assignment::from_json(a.to_json(), "a.json");
  EXPECT_EQ(b.b_min, a.b_min);
  ASSERT_EQ(b.tensors.size(), a.tensors.size());
  EXPECT_EQ(b.tensors[3].format, a.tensors[3].format);
  EXPECT_EQ(b.tensors[3].rule, a.tensors[3].rule);
}

} // namespace
} // namespace fxnn
