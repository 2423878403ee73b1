#include "fxnn/nn/precision_plan.h"

#include <gtest/gtest.h>

#include "fxnn/nn/model_zoo.h"

namespace fxnn {
namespace {

const char* kPlan = R"(
version: 1
rounding: nearest
defaults:
  W: s8.7
  A: u8.7
  GW: s16.auto
  GA: {format: s12.auto, rounding: stochastic}
  acc: s24.23
layers:
  fc2:
    A: float
    W: s12.11
  "conv*":
    W: s10.9
)";

std::string error_of(const std::string& text) {
  try {
    PrecisionPlan::parse(text, "plan.yaml");
  } catch (const std::runtime_error& e) { return e.what(); }
  return "no error";
}

TEST(PrecisionPlan, ResolvesDefaultsOverridesAndGlobs) {
  const auto plan = PrecisionPlan::parse(kPlan, "plan.yaml");
  EXPECT_EQ(plan.resolve("fc1", TensorClass::kWeight)->format.str(), "s8.7");
  EXPECT_EQ(plan.resolve("fc2", TensorClass::kWeight)->format.str(), "s12.11");
  EXPECT_FALSE(plan.resolve("fc2", TensorClass::kActivation).has_value());
  EXPECT_EQ(plan.resolve("conv2", TensorClass::kWeight)->format.str(), "s10.9");
  EXPECT_EQ(plan.resolve("conv2", TensorClass::kActivation)->format.str(), "u8.7");
  const auto ga = plan.resolve("conv1", TensorClass::kActivationGradient);
  EXPECT_TRUE(ga->format.auto_range);
  EXPECT_EQ(ga->rounding, Rounding::kStochastic);
}

TEST(PrecisionPlan, AbsentClassStaysFloat) {
  const auto plan = PrecisionPlan::parse("defaults:\n  W: s8.7\n", "p.yaml");
  EXPECT_FALSE(plan.resolve("x", TensorClass::kAccumulator).has_value());
}

TEST(PrecisionPlan, ApplySetsEveryPointOfTheNetwork) {
  const auto plan = PrecisionPlan::parse(kPlan, "plan.yaml");
  auto net = make_network(ModelOptions{}, InputShape{});
  plan.apply(*net);
  for (const auto& p : net->quant_points()) {
    const auto expected = plan.resolve(p->layer(), p->tensor_class());
    EXPECT_EQ(p->spec().has_value(), expected.has_value()) << p->name();
    if (expected) EXPECT_EQ(*p->spec(), *expected) << p->name();
  }
}

TEST(PrecisionPlan, OverrideThatMatchesNoLayerIsAnError) {
  auto plan = PrecisionPlan::parse("layers:\n  conv9:\n    W: s8.7\n", "p.yaml");
  auto net = make_network(ModelOptions{}, InputShape{});
  try {
    plan.apply(*net);
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("p.yaml: layers.conv9: matches no layer"), std::string::npos) << e.what();
  }
}

TEST(PrecisionPlan, ErrorsNameTheFileKeyAndValue) {
  EXPECT_NE(error_of("defaults:\n  W: s8.x\n").find("plan.yaml: defaults.W: bad fixed-point format 's8.x'"),
            std::string::npos);
  EXPECT_NE(error_of("defaults:\n  Q: s8.7\n").find("plan.yaml: defaults.Q: unknown tensor class 'Q'"),
            std::string::npos);
  EXPECT_NE(error_of("defaultz:\n  W: s8.7\n").find("plan.yaml: defaultz: unknown key"), std::string::npos);
  EXPECT_NE(error_of("rounding: up\n").find("plan.yaml: rounding: unknown rounding 'up'"), std::string::npos);
  EXPECT_NE(error_of("defaults:\n  W: {format: s8.7, round: floor}\n").find("defaults.W.round: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("defaults: [1, 2]\n").find("plan.yaml: defaults: expected a map"), std::string::npos);
  EXPECT_NE(error_of("defaults:\n  W: [s8.7\n").find("plan.yaml:"), std::string::npos); // YAML syntax error with a line
}

TEST(PrecisionPlan, ScaledEntriesReadBackExactly) {
  const auto plan = PrecisionPlan::parse(
      "defaults:\n  W: {format: s2.0, scale: 0.037109375123}\n  A: {format: u2.0, scale: 0.3, rounding: floor}\n",
      "plan.yaml");
  const auto w = plan.resolve("fc1", TensorClass::kWeight), a = plan.resolve("fc1", TensorClass::kActivation);
  ASSERT_TRUE(w && a);
  EXPECT_EQ(w->scale, 0.037109375123);
  EXPECT_EQ(a->scale, 0.3);
  EXPECT_EQ(a->rounding, Rounding::kFloor);
  const auto again = PrecisionPlan::parse(plan.to_yaml(), "again.yaml");
  EXPECT_EQ(*again.resolve("fc1", TensorClass::kWeight), *w);
  EXPECT_EQ(*again.resolve("fc1", TensorClass::kActivation), *a);
  EXPECT_EQ(again.to_yaml(), plan.to_yaml());
  EXPECT_NE(
      error_of("defaults:\n  W: {format: s2.0, scale: -1}\n").find("plan.yaml: defaults.W.scale: must be a positive"),
      std::string::npos);
  EXPECT_NE(
      error_of("defaults:\n  W: {format: s2.0, scale: .nan}\n").find("defaults.W.scale: expected a finite number"),
      std::string::npos);
  EXPECT_NE(error_of("defaults:\n  GA: {format: s8.7, scale: 0.5}\n").find("defaults.GA.scale: only W and A"),
            std::string::npos);
  EXPECT_NE(
      error_of("defaults:\n  W: {format: s8.auto, scale: 0.5}\n").find("defaults.W: an auto range takes no scale"),
      std::string::npos);
  EXPECT_NE(error_of("defaults:\n  W: {format: float, scale: 0.5}\n").find("defaults.W: a float entry takes no scale"),
            std::string::npos);
}

TEST(PrecisionPlan, LearnedScalesReadBack) {
  const auto plan = PrecisionPlan::parse("defaults:\n  A: {format: u2.0, scale: 0.57, learn: true}\n", "plan.yaml");
  const auto a = plan.resolve("fc1", TensorClass::kActivation);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->learned);
  EXPECT_TRUE(a->scaled());
  EXPECT_EQ(*PrecisionPlan::parse(plan.to_yaml(), "again.yaml").resolve("fc1", TensorClass::kActivation), *a);
  EXPECT_NE(error_of("defaults:\n  GW: {format: s8.7, learn: true}\n").find("defaults.GW.learn: only W and A"),
            std::string::npos);
  EXPECT_NE(error_of("defaults:\n  W: {format: s2.0, learn: yes please}\n").find("defaults.W.learn"),
            std::string::npos);
}

TEST(PrecisionPlan, LayerPatternsAreWrittenBackAsTheSameKeys) {
  // Quotes and backslashes are escaped in the written key; control and non-ASCII bytes are refused.
  const auto plan = PrecisionPlan::parse("layers:\n  'a\"b\\\\c#*':\n    W: s8.7\n", "plan.yaml");
  ASSERT_EQ(plan.layers.size(), 1u);
  EXPECT_EQ(plan.layers[0].pattern, "a\"b\\\\c#*");
  const auto again = PrecisionPlan::parse(plan.to_yaml(), "again.yaml");
  ASSERT_EQ(again.layers.size(), 1u);
  EXPECT_EQ(again.layers[0].pattern, plan.layers[0].pattern);
  EXPECT_NE(error_of("layers:\n  \"conv\\x01\":\n    W: s8.7\n").find("non-empty printable ASCII"), std::string::npos);
  EXPECT_NE(error_of("layers:\n  \"conv\xe0\xdf\":\n    W: s8.7\n").find("plan.yaml: layers."), std::string::npos);
}

TEST(PrecisionPlan, YamlRoundTrip) {
  const auto plan = PrecisionPlan::parse(kPlan, "plan.yaml");
  const auto again = PrecisionPlan::parse(plan.to_yaml(), "again.yaml");
  for (const char* layer : {"conv1", "fc1", "fc2"})
    for (TensorClass c : kAllTensorClasses) {
      const auto a = plan.resolve(layer, c), b = again.resolve(layer, c);
      ASSERT_EQ(a.has_value(), b.has_value());
      if (a) EXPECT_EQ(*a, *b);
    }
}

} // namespace
} // namespace fxnn
