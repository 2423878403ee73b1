#include "fxnn/nn/quantize_functions.h"

#include <gtest/gtest.h>

#include "fxnn/autograd/learned_scale.h"
#include "fxnn/autograd/tensor_quantizer.h"
#include "fxnn/nn/layers.h"

namespace fxnn {
namespace {

QuantPointPtr point(const char* format, TensorClass tensor_class = TensorClass::kActivation,
                    Rounding rounding = Rounding::kNearest) {
  auto p = c10::make_intrusive<QuantPoint>("layer", tensor_class);
  p->set_spec(QuantizerSpec{Format::parse(format), rounding});
  return p;
}

torch::Tensor values(std::initializer_list<float> v) { return torch::tensor(std::vector<float>(v)); }

TEST(ForwardQuantize, ForwardRoundsAndSaturates) {
  // s4.2: step 0.25, values [-2, 1.75].
  auto x = values({-3.0f, -0.125f, 0.125f, 0.3f, 1.8f, 5.0f});
  const auto y = quantize_forward(x, point("s4.2"));
  EXPECT_TRUE(torch::equal(y, values({-2.0f, 0.0f, 0.25f, 0.25f, 1.75f, 1.75f})));
}

TEST(ForwardQuantize, BackwardIsStraightThroughInsideTheClippingRange) {
  auto x = values({-3.0f, -2.0f, -0.125f, 0.3f, 1.75f, 1.8f, 5.0f}).requires_grad_(true);
  const auto y = quantize_forward(x, point("s4.2"));
  y.backward(values({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f}));
  // -3, 1.8 and 5 are outside [min, max] = [-2, 1.75]: no gradient; the rest pass unchanged.
  EXPECT_TRUE(torch::equal(x.grad(), values({0.0f, 2.0f, 3.0f, 4.0f, 5.0f, 0.0f, 0.0f})));
}

// A scaled spec (the float-step grids of low-bit fine-tuning): the format's codes times the scale,
// and the straight-through mask over [scale min, scale max].
TEST(ForwardQuantize, ScaledGridIsTheFormatsCodesTimesTheScale) {
  auto p = c10::make_intrusive<QuantPoint>("layer", TensorClass::kWeight);
  p->set_spec(QuantizerSpec{Format::parse("s2.0"), Rounding::kNearest, 0.3});
  auto x = values({-1.0f, -0.46f, -0.44f, 0.1f, 0.16f, 0.5f}).requires_grad_(true);
  const auto y = quantize_forward(x, p);
  // x / 0.3 = -3.3, -1.53, -1.47, 0.33, 0.53, 1.67 -> codes -2 (saturated), -2, -1, 0, 1, 1 (saturated).
  EXPECT_TRUE(torch::equal(y, values({-2.0f, -2.0f, -1.0f, 0.0f, 1.0f, 1.0f}).mul_(0.3)));
  EXPECT_NEAR(p->saturation_rate(), 2.0 / 6.0, 1e-12);
  y.backward(values({1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f}));
  // [min, max] = [-0.6, 0.3]: -1 and 0.5 get no gradient.
  EXPECT_TRUE(torch::equal(x.grad(), values({0.0f, 2.0f, 3.0f, 4.0f, 5.0f, 0.0f})));
}

// A learned activation scale: backward leaves dL/ds of eq. (11) of docs/lowbit.md at the point.
TEST(ActivationQuantize, LearnedScaleCollectsItsGradient) {
  // Both paths: A alone (GA float), and the fused A + GA function.
  for (const char* gradient_format : {"float", "s16.auto"}) {
    auto a = c10::make_intrusive<QuantPoint>("layer", TensorClass::kActivation);
    a->set_spec(QuantizerSpec{Format::parse("u2.0"), Rounding::kNearest, 0.5, true});
    auto ga = c10::make_intrusive<QuantPoint>("layer", TensorClass::kActivationGradient);
    if (std::string(gradient_format) != "float") ga->set_spec(QuantizerSpec{Format::parse(gradient_format)});
    auto x = torch::tensor({{0.1f, 0.7f, 5.0f}}).requires_grad_(true);
    quantize_activation(x, a, ga).backward(torch::ones({1, 3}));
    // r = x / 0.5 = 0.2, 1.4, 10: round(r) - r = -0.2, -0.4 inside, q_hi = 3 where clipped; g = 1 / sqrt(3 * 3).
    EXPECT_NEAR(a->take_scale_gradient(), (-0.2 - 0.4 + 3.0) / 3.0, 1e-6) << gradient_format;
    EXPECT_EQ(a->take_scale_gradient(), 0.0); // taken
  }
}

// learned_scale_gradient's one-pass loop (float activations, float64 accumulators) equals its tensor-op
// form (any other dtype or device) on random data with ties and clipping.
TEST(LearnedScale, OnePassGradientEqualsTheTensorOps) {
  torch::manual_seed(8);
  const auto x = torch::cat({torch::randn({4000}) * 2, torch::arange(-8, 8).to(torch::kFloat) * 0.25f});
  const auto g = torch::randn({x.numel()});
  for (const char* format : {"u2.0", "s2.0", "s4.1"}) {
    const QuantizerSpec spec{Format::parse(format), Rounding::kNearest, 0.5, true};
    const double fast = learned_scale_gradient(x, g, spec, 100);
    const double fast_double = learned_scale_gradient(x.to(torch::kDouble), g, spec, 100);
    const double ops = learned_scale_gradient(x.to(torch::kDouble), g.to(torch::kDouble), spec, 100);
    EXPECT_NEAR(fast, ops, 1e-9 * (1 + std::abs(ops))) << format;
    EXPECT_NEAR(fast_double, ops, 1e-9 * (1 + std::abs(ops))) << format;
  }
}

TEST(ForwardQuantize, FloatPointIsIdentity) {
  auto p = c10::make_intrusive<QuantPoint>("layer", TensorClass::kActivation);
  auto x = values({0.1234f, -7.0f});
  EXPECT_TRUE(quantize_forward(x, p).is_same(x));
}

TEST(GradientQuantize, ForwardIsIdentityAndBackwardHandsOnTheQuantizedGradient) {
  auto x = values({1.0f, 2.0f, 3.0f, 4.0f}).requires_grad_(true);
  auto gp = point("s4.2", TensorClass::kActivationGradient);
  const auto y = quantize_gradient(x, gp);
  EXPECT_TRUE(torch::equal(y, x));
  y.backward(values({0.1f, -0.2f, 0.375f, 9.0f}));
  // Q_{s4.2}: 0.1 -> 0 (0.4 steps), -0.2 -> -0.25 (-0.8 steps), 0.375 -> 0.5 (tie 1.5 rounds up),
  // 9 -> 1.75 (saturated).
  EXPECT_TRUE(torch::equal(x.grad(), values({0.0f, -0.25f, 0.5f, 1.75f})));
  EXPECT_DOUBLE_EQ(gp->saturation_rate(), 0.25);
}

TEST(GradientQuantize, AutoRangeFollowsTheGradient) {
  auto x = torch::zeros({3}).requires_grad_(true);
  auto gp = point("s8.auto", TensorClass::kActivationGradient);
  quantize_gradient(x, gp).backward(values({0.01f, -0.003f, 0.0001f}));
  // max|g| = 0.01 < 2^-6: range 2^-6, step 2^-6 * 2^-7 = 2^-13.
  EXPECT_EQ(gp->last_format().str(), "s8.13");
  const float step = 1.0f / 8192;
  EXPECT_TRUE(
      torch::equal(x.grad(), values({std::round(0.01f / step) * step, std::round(-0.003f / step) * step, 1 * step})));
}

TEST(QActivation, EqualsClippedReluThenQuantizersInBothDirections) {
  QActivation act(QActivationOptions("conv1"));
  for (const auto& p : act->quant_points())
    p->set_spec(QuantizerSpec{Format::parse(p->tensor_class() == TensorClass::kActivation ? "u4.3" : "s6.4")});
  auto x = values({-1.0f, 0.0f, 0.06f, 0.07f, 1.0f, 1.9f, 2.5f}).requires_grad_(true);
  const auto y = act(x);
  // u4.3: step 1/8, max 15/8. clipped ReLU first, then round half up.
  EXPECT_TRUE(torch::equal(y, values({0.0f, 0.0f, 0.0f, 0.125f, 1.0f, 1.875f, 1.875f})));
  y.backward(values({0.5f, 0.5f, 0.52f, 0.54f, -0.4f, 0.2f, 0.2f}));
  // s6.4 (step 1/16) on the gradient, then zero where x is outside [0, 15/8].
  EXPECT_TRUE(torch::equal(x.grad(), values({0.0f, 0.5f, 0.5f, 0.5625f, -0.375f, 0.0f, 0.0f})));
}

TEST(QActivation, FloatIsClippedRelu) {
  QActivation act(QActivationOptions("fc1").clip(2.0));
  auto x = values({-1.0f, 0.5f, 3.0f}).requires_grad_(true);
  const auto y = act(x);
  EXPECT_TRUE(torch::equal(y, values({0.0f, 0.5f, 2.0f})));
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), values({0.0f, 1.0f, 0.0f})));
}

TEST(TensorQuantizer, TensorOpPathEqualsKernelPath) {
  torch::manual_seed(3);
  const auto x = torch::randn({1000, 37}) * 3;
  for (const char* f : {"s8.7", "u8.7", "s16.auto", "s5.1"})
    for (Rounding r : {Rounding::kNearest, Rounding::kFloor}) {
      const QuantizerSpec spec{Format::parse(f), r};
      const auto kernel = quantize_tensor(x, spec, 0);
      const auto ops = quantize_tensor_ops(x, spec);
      EXPECT_TRUE(torch::equal(kernel.values, ops.values)) << f;
      EXPECT_EQ(kernel.format, ops.format);
      EXPECT_EQ(kernel.saturation.below, ops.saturation.below);
      EXPECT_EQ(kernel.saturation.above, ops.saturation.above);
    }
}

TEST(TensorQuantizer, ScaledSpecsAgreeOnEveryPath) {
  torch::manual_seed(6);
  const auto x = torch::randn({500, 9});
  for (const char* f : {"s2.0", "u3.0", "s4.2"}) {
    const QuantizerSpec spec{Format::parse(f), Rounding::kNearest, 0.0371};
    const auto kernel = quantize_tensor(x, spec, 0);
    const auto ops = quantize_tensor_ops(x, spec);
    auto in_place = x.clone();
    const auto into = quantize_tensor_into(in_place, in_place, spec, 0);
    EXPECT_TRUE(torch::equal(kernel.values, ops.values)) << f;
    EXPECT_TRUE(torch::equal(kernel.values, into.values)) << f;
    EXPECT_EQ(kernel.saturation.above, ops.saturation.above) << f;
    EXPECT_DOUBLE_EQ(kernel.max(), 0.0371 * spec.format.max()) << f;
    // The values are the format's grid of x / scale, times the scale.
    const QuantizerSpec unit{Format::parse(f)};
    EXPECT_TRUE(torch::equal(kernel.values, quantize_tensor(x / 0.0371, unit, 0).values.mul_(0.0371))) << f;
  }
}

TEST(TensorQuantizer, NonContiguousInputsAreQuantizedLikeContiguousOnes) {
  torch::manual_seed(4);
  const auto x = torch::randn({64, 32}).t();
  const QuantizerSpec spec{Format::parse("s8.5")};
  EXPECT_TRUE(torch::equal(quantize_tensor(x, spec, 0).values, quantize_tensor(x.contiguous(), spec, 0).values));
}

// quantize_tensor_into (the optimizer's in-place path): the values, format and saturation of
// quantize_tensor, written into the given tensor (also the input itself), for float and double,
// contiguous and strided outputs, every rounding (stochastic with the same seed).
TEST(TensorQuantizer, IntoAGivenTensorEqualsAFreshOne) {
  torch::manual_seed(5);
  for (auto dtype : {torch::kFloat, torch::kDouble})
    for (const char* f : {"s8.7", "s16.auto", "u6.3"})
      for (Rounding r : {Rounding::kNearest, Rounding::kFloor, Rounding::kStochastic}) {
        const QuantizerSpec spec{Format::parse(f), r};
        const auto x = (torch::randn({300, 7}) * 2).to(dtype);
        const auto fresh = quantize_tensor(x, spec, 9);
        auto out = torch::empty_like(x);
        const auto into = quantize_tensor_into(x, out, spec, 9);
        EXPECT_TRUE(torch::equal(into.values, fresh.values)) << f;
        EXPECT_EQ(into.values.data_ptr(), out.data_ptr());
        EXPECT_EQ(into.format, fresh.format);
        EXPECT_EQ(into.saturation.above, fresh.saturation.above);
        auto in_place = x.clone();
        EXPECT_TRUE(torch::equal(quantize_tensor_into(in_place, in_place, spec, 9).values, fresh.values)) << f;
        auto strided = torch::empty({7, 300}, x.options()).t();
        EXPECT_TRUE(torch::equal(quantize_tensor_into(x, strided, spec, 9).values, fresh.values)) << f;
      }
  const auto x = torch::randn({4, 4});
  auto wrong = torch::empty({4, 5});
  EXPECT_THROW(quantize_tensor_into(x, wrong, QuantizerSpec{Format::parse("s8.7")}, 0), c10::Error);
}

} // namespace
} // namespace fxnn

namespace fxnn {
namespace {

TEST(ActivationQuantize, FusedBackwardEqualsTheComposition) {
  torch::manual_seed(8);
  for (const char* ga_format : {"s8.auto", "s10.12"}) {
    for (Rounding r : {Rounding::kNearest, Rounding::kStochastic}) {
      auto a1 = point("u4.3"), a2 = point("u4.3");
      auto g1 = point(ga_format, TensorClass::kActivationGradient, r);
      auto g2 = point(ga_format, TensorClass::kActivationGradient, r);
      const auto base = torch::randn({3, 5, 7, 9}) * 1.5;
      const auto grad = torch::randn({3, 5, 7, 9}) * 0.01;
      auto x1 = base.clone().requires_grad_(true), x2 = base.clone().requires_grad_(true);
      const auto fused = quantize_activation(x1, a1, g1);
      const auto composed = quantize_gradient(quantize_forward(x2, a2), g2);
      EXPECT_TRUE(torch::equal(fused, composed));
      fused.backward(grad);
      composed.backward(grad);
      EXPECT_TRUE(torch::equal(x1.grad(), x2.grad())) << ga_format;
      EXPECT_EQ(g1->saturation_rate(), g2->saturation_rate());
      EXPECT_EQ(g1->last_format(), g2->last_format());
      EXPECT_EQ(a1->saturation_rate(), a2->saturation_rate());
    }
  }
}

} // namespace
} // namespace fxnn
