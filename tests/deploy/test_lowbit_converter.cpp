// The low-bit converter: batch norm folds exactly; the artifact of either mode runs in the integer
// runtime bit for bit as its LibTorch simulation; a shift-clip artifact has power-of-two multipliers
// only, its files hold integers only, an evaluator with shifts and B-bit products alone reproduces
// it, and running it leaves the floating-point flags untouched; float-scale multipliers keep 24
// significant bits; at 8 bits the low-bit network predicts like the float one.

#include <gtest/gtest.h>

#include <cfenv>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "../lowbit/shift_add_evaluator.h"
#include "../support/fixtures.h"
#include "fxnn/data/writers.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/deploy/lowbit_converter.h"
#include "fxnn/deploy/torch_simulation.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/lowbit/requantize_builder.h"
#include "fxnn/lowbit/shift_clip_check.h"
#include "fxnn/nn/layers.h"
#include "fxnn/nn/model_zoo.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn::lowbit {
namespace {

namespace fs = std::filesystem;

/// Random batch-norm statistics and affine parameters, so that folding has something to fold.
void randomize_batch_norms(NetworkImpl& net, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (const auto& m : net.body->children()) {
    auto set = [](auto* bn) {
      bn->running_mean.copy_(torch::randn_like(bn->running_mean) * 0.3);
      bn->running_var.copy_(torch::rand_like(bn->running_var) + 0.5);
      bn->weight.copy_(torch::randn_like(bn->weight));
      bn->bias.copy_(torch::randn_like(bn->bias) * 0.2);
    };
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm1dImpl*>(m.get())) set(bn);
    if (auto* bn = dynamic_cast<torch::nn::BatchNorm2dImpl*>(m.get())) set(bn);
  }
}

TEST(FloatLayers, FoldedBatchNormEqualsTheModules) {
  for (const std::string arch : {"mlp", "cnn"}) {
    ModelOptions o;
    o.arch = arch;
    o.hidden = {24, 12};
    o.width = 0.25;
    Network net = make_network(o, InputShape{1, 28, 28, 10});
    randomize_batch_norms(*net, 5);
    net->eval();
    const auto x = torch::randn({7, 1, 28, 28});
    const auto want = net->forward(x).to(torch::kDouble);
    auto y = x.to(torch::kDouble);
    for (const auto& l : float_layers(*net)) y = forward(l, y);
    EXPECT_LT((y - want).abs().max().item<double>(), 1e-4) << arch;
  }
}

TEST(FloatLayers, ResidualNetworksHaveNoLowBitForm) {
  ModelOptions o;
  o.arch = "resnet20";
  o.width = 0.0625;
  Network net = make_network(o, InputShape{3, 32, 32, 10});
  try {
    float_layers(*net);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no low-bit form"), std::string::npos) << e.what();
  }
}

/// Floating-point numbers anywhere in a JSON document.
int count_floats(const nlohmann::json& j) {
  if (j.is_number_float()) return 1;
  int n = 0;
  if (j.is_structured())
    for (const auto& e : j) n += count_floats(e);
  return n;
}

/// One float run shared by the tests below: the MLP (one hidden layer of 64) or the CNN (width
/// 0.25), one epoch on a subset of Fashion-MNIST.
class LowbitConverter : public ::testing::Test {
 protected:
  struct Trained {
    TrainedRun run;
    data::DatasetSplits data;
  };

  static Trained& trained(const std::string& arch) {
    static std::map<std::string, Trained> runs;
    if (!runs.count(arch)) {
      const fs::path dir = fs::temp_directory_path() / ("fxnn_lowbit_" + arch + "_" + std::to_string(::getpid()));
      TrainerOptions o;
      o.config =
          ExperimentConfig::parse("name: tiny\nseed: 3\ntransform:\n  mean: [0.2860]\n  std: [0.3530]\n", "tiny.yaml",
                                  {"data.train_limit=2000", "data.test_limit=300", "model.arch=" + arch,
                                   "model.hidden=[64]", "model.width=0.25", "train.batch_size=100", "train.epochs=1"});
      o.out_dir = dir.string();
      o.quiet = true;
      Trainer(o).run();
      Trained t{load_trained_run(dir.string()), {}};
      t.data = data::load_dataset(t.run.config.data);
      fs::remove_all(dir);
      runs.emplace(arch, std::move(t));
    }
    return runs.at(arch);
  }

  void SetUp() override {
    if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }

  static LowbitConversion convert(const std::string& arch, const LowbitOptions& o) {
    auto& t = trained(arch);
    return convert_to_lowbit(*t.run.network, t.run.config, t.data.train, LowbitOptions(o).with_calibration_images(300));
  }

  /// Runtime (optimized and reference) against the LibTorch simulation on the test images.
  static InferenceReport check(const std::string& arch, const ir::Network& net) {
    auto& t = trained(arch);
    InferenceOptions o;
    o.quiet = true;
    o.check = true;
    o.source_model = eval_forward(*t.run.network);
    o.source_transform = t.run.config.transform;
    const auto r = run_inference(net, t.data.test, o);
    EXPECT_EQ(r.prediction_mismatches, 0);
    EXPECT_EQ(r.code_mismatches, 0);
    const auto reference = runtime::Engine(net, runtime::EngineOptions().with_reference(true))
                               .run(image_input_codes(net, t.data.test.images))
                               .to_int64();
    EXPECT_EQ(reference, r.output_codes);
    return r;
  }
};

TEST_F(LowbitConverter, ShiftClipIsShiftsAndClampsOnly) {
  for (const std::string arch : {"mlp", "cnn"}) {
    const auto c = convert(arch, LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(3));
    const ir::Network& net = c.network;
    EXPECT_TRUE(shift_clip_violations(net).empty());
    for (const auto& n : net.nodes) {
      if (!n.requantize) continue;
      for (int64_t m : n.requantize->multiplier) EXPECT_TRUE(is_power_of_two(m)) << n.name << ": " << m;
      if (n.weight) {
        EXPECT_EQ(n.weight->format.bits, 3);
        for (int64_t w : n.weight->data) ASSERT_LE(std::abs(w), 3);
      }
    }
    // The artifact on disk holds integers only: no number of model.json is a float, no float type in model.h.
    const fs::path dir =
        fs::temp_directory_path() / ("fxnn_lowbit_artifact_" + arch + "_" + std::to_string(::getpid()));
    ir::save_network(net, dir.string());
    std::ifstream json_file(dir / "model.json");
    EXPECT_EQ(count_floats(nlohmann::json::parse(json_file)), 0) << arch;
    std::ifstream header_file(dir / "model.h");
    const std::string header((std::istreambuf_iterator<char>(header_file)), std::istreambuf_iterator<char>());
    EXPECT_FALSE(header.empty());
    for (const char* word : {"float", "double"})
      EXPECT_EQ(header.find(word), std::string::npos) << arch << ": " << word;
    fs::remove_all(dir);
    const auto r = check(arch, net);
    // An evaluator of additions, B-bit products, shifts and clamps gives the runtime's codes.
    const auto& test = trained(arch).data.test;
    const auto pixels = test.images.to(torch::kLong).contiguous();
    const int64_t per = pixels.numel() / test.size();
    for (int64_t s = 0; s < 40; ++s) {
      const std::vector<int64_t> x(pixels.data_ptr<int64_t>() + s * per, pixels.data_ptr<int64_t>() + (s + 1) * per);
      const auto want = testing::evaluate_shift_add(net, x);
      const std::vector<int64_t> got(r.output_codes.begin() + s * r.outputs,
                                     r.output_codes.begin() + (s + 1) * r.outputs);
      ASSERT_EQ(got, want) << arch << " sample " << s;
    }
  }
}

TEST_F(LowbitConverter, ShiftClipRuntimeLeavesTheFloatingPointFlagsAlone) {
  const auto c = convert("cnn", LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(3));
  const auto& test = trained("cnn").data.test;
  const auto input = image_input_codes(c.network, test.images);
  for (bool reference : {false, true}) {
    // One thread: the flags are per thread, and a team of one runs on this one.
    runtime::Engine engine(c.network, runtime::EngineOptions().with_reference(reference).with_threads(1));
    std::feclearexcept(FE_ALL_EXCEPT);
    const auto out = engine.run(input);
    EXPECT_EQ(std::fetestexcept(FE_ALL_EXCEPT), 0) << (reference ? "reference" : "optimized");
    EXPECT_GT(out.numel(), 0);
  }
  // The probe sees a floating-point multiply-add of the kind float-scale stands for.
  std::feclearexcept(FE_ALL_EXCEPT);
  volatile float alpha = 0.1f, acc = 7.0f, beta = 0.3f;
  volatile float u = alpha * acc + beta;
  (void)u;
  EXPECT_NE(std::fetestexcept(FE_INEXACT), 0);
}

TEST_F(LowbitConverter, FloatScaleKeepsTwentyFourBitsAndIsBitExact) {
  const auto c = convert("mlp", LowbitOptions().with_mode(LowbitMode::kFloatScale).with_bits(2));
  for (const auto& l : c.layers) EXPECT_GE(l.significant_bits, 24) << l.name;
  for (const auto& n : c.network.nodes)
    if (n.weight)
      for (int64_t w : n.weight->data) ASSERT_LE(std::abs(w), 1) << n.name; // ternary
  check("mlp", c.network);
}

TEST_F(LowbitConverter, EveryOptionGivesABitExactArtifact) {
  const std::vector<LowbitOptions> variants{
      LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(2).with_granularity(Granularity::kChannel),
      LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(4).with_steps(StepRule::kMaxAbs),
      LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(3).with_rounding(Rounding::kFloor),
      LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(3).with_input_bits(3),
      LowbitOptions().with_mode(LowbitMode::kFloatScale).with_bits(3).with_granularity(Granularity::kChannel),
      LowbitOptions().with_mode(LowbitMode::kFloatScale).with_bits(5).with_steps(StepRule::kMaxAbs),
  };
  for (const auto& o : variants) {
    const auto c = convert("cnn", o);
    if (o.mode == LowbitMode::kShiftClip) EXPECT_TRUE(shift_clip_violations(c.network).empty());
    if (o.rounding == Rounding::kFloor)
      for (const auto& n : c.network.nodes)
        if (n.requantize && n.requantize->shift > 0) EXPECT_EQ(n.requantize->rounding, Rounding::kFloor) << n.name;
    EXPECT_EQ(c.network.nodes.front().output_format.bits, o.input_bits);
    check("cnn", c.network);
  }
}

TEST_F(LowbitConverter, EightBitsPredictLikeTheFloatNetwork) {
  for (LowbitMode mode : {LowbitMode::kShiftClip, LowbitMode::kFloatScale}) {
    const auto c = convert("mlp", LowbitOptions().with_mode(mode).with_bits(8));
    const auto r = check("mlp", c.network);
    EXPECT_NEAR(r.accuracy(), static_cast<double>(r.source_correct) / static_cast<double>(r.samples), 0.02)
        << to_string(mode);
    EXPECT_GE(r.source_agreement, r.samples * 95 / 100) << to_string(mode);
  }
}

TEST_F(LowbitConverter, AccumulatorBoundsOfTheReport) {
  const auto c = convert("mlp", LowbitOptions().with_mode(LowbitMode::kShiftClip).with_bits(3));
  ASSERT_EQ(c.layers.size(), 2u);
  const auto &hidden = c.layers[0], logits = c.layers[1];
  EXPECT_EQ(hidden.fan_in, 784);
  EXPECT_EQ(hidden.input_code_max, 128); // 8-bit input codes
  EXPECT_EQ(logits.fan_in, 16);          // 64 hidden units times width 0.25
  EXPECT_EQ(logits.input_code_max, 7);   // 3-bit activations
  EXPECT_EQ(logits.weight_code_max, 3);
  for (const auto& l : c.layers) {
    EXPECT_EQ(l.spec_bound, static_cast<uint64_t>(l.fan_in * l.weight_code_max * l.input_code_max + l.bias_max));
    EXPECT_LE(l.worst_case, l.spec_bound);
  }
}

} // namespace
} // namespace fxnn::lowbit
