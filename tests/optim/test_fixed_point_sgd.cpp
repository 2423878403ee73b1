#include "fxnn/optim/fixed_point_sgd.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

namespace fxnn {
namespace {

struct OneWeight {
  torch::Tensor weight;
  WeightQuantization quantization;

  OneWeight(std::vector<float> init, const char* w, const char* gw, const char* acc) {
    weight = torch::tensor(init).requires_grad_(true);
    auto make = [](TensorClass c, const char* format) {
      auto p = c10::make_intrusive<QuantPoint>("fc", c);
      if (std::string(format) != "float") p->set_spec(QuantizerSpec{Format::parse(format)});
      return p;
    };
    quantization = {"fc", weight, make(TensorClass::kWeight, w), make(TensorClass::kWeightGradient, gw),
                    make(TensorClass::kAccumulator, acc)};
  }
  void set_grad(std::vector<float> g) { weight.mutable_grad() = torch::tensor(g); }
};

TEST(FixedPointSGD, UpdateMatchesHandComputation) {
  OneWeight w({0.3f, -0.7f}, "s4.3", "s6.3", "s10.9");
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(0.1));
  sgd.initialize_accumulators();
  // acc = Q_acc(0.3, -0.7) = (154, -358)/512; W = Q_W(acc) = (2, -6)/8.
  EXPECT_TRUE(torch::equal(w.weight, torch::tensor({0.25f, -0.75f})));
  w.set_grad({1.3f, -0.2f});
  sgd.step();
  // G = Q_GW(1.3, -0.2) = (10, -2)/8; acc - 0.1 G = (90, -345.2)/512 -> (90, -345)/512;
  // W = Q_W(acc) = (1.40625, -5.390625)/8 -> (1, -5)/8.
  EXPECT_TRUE(torch::equal(w.weight, torch::tensor({0.125f, -0.625f})));
  EXPECT_EQ(sgd.steps(), 1);
}

// Weights on a scaled grid (low-bit fine-tuning) take the general update path: W = 0.3 Q_s2.0(acc / 0.3).
TEST(FixedPointSGD, ScaledWeightGridHoldsTheWeights) {
  OneWeight w({0.2f, -0.7f, 0.9f}, "s2.0", "float", "s24.20");
  w.quantization.weight_point->set_spec(QuantizerSpec{Format::parse("s2.0"), Rounding::kNearest, 0.3});
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(0.1));
  sgd.initialize_accumulators();
  // 0.2 / 0.3 = 0.67 -> 1; -0.7 / 0.3 = -2.3 -> -2; 0.9 / 0.3 = 3 -> 1 (saturated).
  EXPECT_TRUE(torch::equal(w.weight, torch::tensor({1.0f, -2.0f, 1.0f}).mul_(0.3)));
  w.set_grad({2.0f, 0.0f, 0.0f});
  sgd.step();
  // acc 0.2 - 0.2 = 0 -> code 0.
  EXPECT_TRUE(torch::equal(w.weight, torch::tensor({0.0f, -2.0f, 1.0f}).mul_(0.3)));
}

// A learned W scale (docs/lowbit.md eq. (11)): the step moves by -lr dL/ds, the weights follow onto the
// moved grid, and the scale survives save and load.
TEST(FixedPointSGD, LearnedWeightScaleMovesAndIsSaved) {
  OneWeight w({0.2f, -0.7f, 0.9f}, "s2.0", "float", "s24.20");
  w.quantization.weight_point->set_spec(QuantizerSpec{Format::parse("s2.0"), Rounding::kNearest, 0.3, true});
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(0.1));
  sgd.initialize_accumulators();
  EXPECT_TRUE(torch::equal(w.weight, torch::tensor({1.0f, -2.0f, 1.0f}).mul_(0.3)));
  w.set_grad({1.0f, 0.0f, -1.0f});
  // acc = (0.2, -0.7, 0.9) (s24.20 rounds them), r = acc / 0.3: codes 1 (inside, 1 - 0.667), -2 (clipped at
  // r = -2.33: q_lo = -2), 1 (clipped at r = 3: q_hi = 1); dL/ds = (1 (1 - r0) + 0 - 1 (1)) / sqrt(3 * 1).
  const double r0 = std::ldexp(std::round(std::ldexp(0.2f, 20)), -20) / 0.3;
  const double expected = 0.3 - 0.1 * ((1.0 - r0) - 1.0) / std::sqrt(3.0);
  sgd.step();
  EXPECT_NEAR(w.quantization.weight_point->spec()->scale, expected, 1e-9);
  const double s = w.quantization.weight_point->spec()->scale;
  const auto codes = w.weight / s;
  EXPECT_LT((codes - codes.round()).abs().max().item<double>(), 1e-5);

  std::stringstream buffer;
  {
    torch::serialize::OutputArchive out;
    sgd.save(out);
    out.save_to(buffer);
  }
  w.quantization.weight_point->set_scale(0.5);
  torch::serialize::InputArchive in;
  in.load_from(buffer);
  sgd.load(in);
  EXPECT_EQ(w.quantization.weight_point->spec()->scale, s);
}

TEST(FixedPointSGD, AccumulatorTooShortSwampsSmallUpdates) {
  OneWeight w({0.5f}, "s8.7", "float", "s8.7");
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(0.01));
  sgd.initialize_accumulators();
  for (int i = 0; i < 100; ++i) {
    w.set_grad({0.3f}); // lr * G = 0.003 < step/2 = 1/256: the update rounds away every time
    sgd.step();
  }
  EXPECT_EQ(w.weight.item<float>(), 0.5f);
}

TEST(FixedPointSGD, WideAccumulatorIsExactBeyondFloat32) {
  OneWeight w({0.0f}, "float", "float", "s30.29");
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(1.0));
  sgd.initialize_accumulators();
  const float tiny = std::ldexp(1.0f, -29);
  for (int i = 0; i < 3; ++i) {
    w.set_grad({-tiny});
    sgd.step();
  }
  EXPECT_EQ(w.weight.item<float>(), 3 * tiny);
}

TEST(FixedPointSGD, WeightsAreClippedToTheRange) {
  OneWeight fl({0.99f}, "float", "float", "float");
  FixedPointSGD sgd({fl.quantization}, {}, FixedPointSGDOptions(1.0));
  sgd.initialize_accumulators();
  fl.set_grad({-100.0f});
  sgd.step();
  EXPECT_EQ(fl.weight.item<float>(), 1.0f);

  OneWeight fx({0.99f}, "s8.7", "float", "s12.11");
  FixedPointSGD sgd_fx({fx.quantization}, {}, FixedPointSGDOptions(1.0));
  sgd_fx.initialize_accumulators();
  fx.set_grad({100.0f});
  sgd_fx.step();
  EXPECT_EQ(fx.weight.item<float>(), -1.0f);
}

TEST(FixedPointSGD, FloatWeightsGetPlainSgd) {
  OneWeight w({0.25f, 0.5f}, "float", "float", "float");
  auto bias = torch::tensor({3.0f}).requires_grad_(true);
  FixedPointSGD sgd({w.quantization}, {bias}, FixedPointSGDOptions(0.5));
  sgd.initialize_accumulators();
  w.set_grad({0.1f, -0.2f});
  bias.mutable_grad() = torch::tensor({2.0f});
  sgd.step();
  EXPECT_TRUE(torch::allclose(w.weight, torch::tensor({0.2f, 0.6f})));
  EXPECT_EQ(bias.item<float>(), 2.0f);
}

TEST(FixedPointSGD, MomentumIsOffByDefaultAndAccumulatesWhenOn) {
  OneWeight w({0.0f}, "float", "float", "float");
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(1.0).momentum(0.5));
  sgd.initialize_accumulators();
  w.set_grad({0.1f});
  sgd.step(); // v = 0.1
  w.set_grad({0.1f});
  sgd.step(); // v = 0.15
  EXPECT_NEAR(w.weight.item<float>(), -0.25f, 1e-7);
  EXPECT_EQ(FixedPointSGDOptions(0.1).momentum(), 0.0);
}

TEST(FixedPointSGD, OnePassUpdateEqualsTheTensorOpsItReplaces) {
  // Three blocks of the fused kernel, gradients that saturate GW and accumulators that reach the clip.
  torch::manual_seed(5);
  const auto init = (torch::rand({200001}) * 2.2 - 1.1);
  OneWeight w(std::vector<float>(init.data_ptr<float>(), init.data_ptr<float>() + init.numel()), "s10.9", "s7.12",
              "s17.16");
  FixedPointSGD sgd({w.quantization}, {}, FixedPointSGDOptions(0.1).weight_clip(1.0));
  sgd.initialize_accumulators();
  const auto acc0 = sgd.state_tensors().at(0).clone();
  const auto g = torch::randn({200001}) * 0.01;
  w.weight.mutable_grad() = g.clone();
  w.quantization.gradient_point->reset_stats();
  w.quantization.accumulator_point->reset_stats();
  sgd.step();

  const auto& q = w.quantization;
  const auto gq = quantize_tensor(g, *q.gradient_point->spec(), 0);
  auto acc = acc0.sub(gq.values.to(torch::kDouble), 0.1).clamp(-1.0, 1.0);
  const auto accq = quantize_tensor(acc, *q.accumulator_point->spec(), 0);
  const auto wq = quantize_tensor(accq.values, *q.weight_point->spec(), 0);
  EXPECT_TRUE(torch::equal(sgd.state_tensors().at(0), accq.values));
  EXPECT_TRUE(torch::equal(w.weight.detach(), wq.values.to(torch::kFloat)));
  EXPECT_EQ(q.gradient_point->values_saturated(), gq.saturation.total());
  EXPECT_GT(gq.saturation.total(), 0);
  EXPECT_EQ(q.accumulator_point->values_saturated(), accq.saturation.total());
}

TEST(FixedPointSGD, StateSurvivesSaveAndLoad) {
  OneWeight a({0.3f}, "s8.7", "s8.auto", "s20.19");
  FixedPointSGD sgd_a({a.quantization}, {}, FixedPointSGDOptions(0.1));
  sgd_a.initialize_accumulators();
  a.set_grad({0.01f});
  sgd_a.step();
  torch::serialize::OutputArchive out;
  sgd_a.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);

  OneWeight b({0.3f}, "s8.7", "s8.auto", "s20.19");
  FixedPointSGD sgd_b({b.quantization}, {}, FixedPointSGDOptions(0.1));
  sgd_b.initialize_accumulators();
  torch::serialize::InputArchive in;
  std::istringstream input(bytes.str());
  in.load_from(input);
  sgd_b.load(in);
  EXPECT_EQ(sgd_b.steps(), 1);
  // The same next step from the restored accumulator gives the same weight.
  a.set_grad({0.02f});
  b.set_grad({0.02f});
  sgd_a.step();
  sgd_b.step();
  EXPECT_TRUE(torch::equal(a.weight, b.weight));
}

} // namespace
} // namespace fxnn
