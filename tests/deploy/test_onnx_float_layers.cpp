// A float CNN read from ONNX (floatnet/onnx_layer_import.h, deploy/float_layers.h): its layers
// compute what the ONNX operators compute (LibTorch's functional ops on the same parameters), and
// its low-bit network, average pooling included, runs in the integer runtime bit for bit as the
// converter's simulation.

#include <gtest/gtest.h>

#include <random>

#include "../floatnet/onnx_builder.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/deploy/lowbit_converter.h"
#include "fxnn/lowbit/shift_clip_check.h"

namespace fxnn::lowbit {
namespace {

using testing_support::OnnxBuilder;

/// Parameters drawn once, given to the ONNX graph and to the LibTorch reference alike.
struct Parameter {
  std::vector<int64_t> dims;
  std::vector<float> values;

  torch::Tensor tensor() const { return torch::tensor(values, torch::kFloat).to(torch::kDouble).view(dims).clone(); }
};

Parameter draw(std::vector<int64_t> dims, double scale, double offset, std::mt19937& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  Parameter p{std::move(dims), {}};
  for (int64_t i = 0; i < n; ++i) p.values.push_back(static_cast<float>(offset + scale * normal(rng)));
  return p;
}

/// x [N,1,28,28] -> Conv 4x3x3 pad 1 (bias) -> BatchNormalization -> MaxPool 2 -> Relu -> Conv 6x3x3
/// -> Add [1,6,1,1] -> Clip(0, 4) -> AveragePool 2 -> Conv 8x1x1 -> Relu -> GlobalAveragePool ->
/// Flatten -> Gemm 10x8 (transB) -> Relu -> MatMul 10x10 -> Add: the logits.
struct Cnn {
  std::map<std::string, Parameter> p;
  std::string bytes;

  Cnn() {
    std::mt19937 rng(11);
    p["w1"] = draw({4, 1, 3, 3}, 0.4, 0, rng);
    p["b1"] = draw({4}, 0.1, 0, rng);
    p["gamma"] = draw({4}, 0.3, 1, rng);
    p["beta"] = draw({4}, 0.2, 0, rng);
    p["mean"] = draw({4}, 0.2, 0, rng);
    p["var"] = draw({4}, 0.1, 1, rng);
    p["w2"] = draw({6, 4, 3, 3}, 0.3, 0, rng);
    p["b2"] = draw({1, 6, 1, 1}, 0.1, 0, rng);
    p["w3"] = draw({8, 6, 1, 1}, 0.5, 0, rng);
    p["w4"] = draw({10, 8}, 0.5, 0, rng);
    p["b4"] = draw({10}, 0.1, 0, rng);
    p["w5"] = draw({10, 10}, 0.5, 0, rng);
    p["b5"] = draw({10}, 0.1, 0, rng);
    p["zero"] = {{}, {0}};
    p["four"] = {{}, {4}};
    OnnxBuilder b(17, {-1, 1, 28, 28});
    for (const auto& [name, v] : p) b.constant(name, v.dims, v.values, true);
    auto* c1 = b.node("Conv", {"x", "w1", "b1"}, "c1", "conv_a");
    OnnxBuilder::ints(c1, "pads", {1, 1, 1, 1});
    b.node("BatchNormalization", {"c1", "gamma", "beta", "mean", "var"}, "n1", "bn_a");
    auto* pool = b.node("MaxPool", {"n1"}, "p1", "pool_a");
    OnnxBuilder::ints(pool, "kernel_shape", {2, 2});
    OnnxBuilder::ints(pool, "strides", {2, 2});
    b.node("Relu", {"p1"}, "r1", "relu_a");
    b.node("Conv", {"r1", "w2"}, "c2", "conv_b");
    b.node("Add", {"c2", "b2"}, "a2", "bias_b");
    b.node("Clip", {"a2", "zero", "four"}, "r2", "relu4_b");
    auto* avg = b.node("AveragePool", {"r2"}, "p2", "avg_b");
    OnnxBuilder::ints(avg, "kernel_shape", {2, 2});
    OnnxBuilder::ints(avg, "strides", {2, 2});
    b.node("Conv", {"p2", "w3"}, "c3", "conv_c");
    b.node("Relu", {"c3"}, "r3", "relu_c");
    b.node("GlobalAveragePool", {"r3"}, "g", "gap");
    b.node("Flatten", {"g"}, "f", "flatten");
    auto* fc = b.node("Gemm", {"f", "w4", "b4"}, "d4", "fc_d");
    OnnxBuilder::attr(fc, "transB", int64_t{1});
    b.node("Relu", {"d4"}, "r4", "relu_d");
    b.node("MatMul", {"r4", "w5"}, "m5", "fc_e");
    b.node("Add", {"m5", "b5"}, "y", "bias_e");
    bytes = b.bytes("y");
  }

  /// What the ONNX operators compute, in float64.
  torch::Tensor reference(const torch::Tensor& x) const {
    auto t = [&](const std::string& name) { return p.at(name).tensor(); };
    auto y = torch::conv2d(x, t("w1"), t("b1"), 1, 1);
    y = torch::batch_norm(y, t("gamma"), t("beta"), t("mean"), t("var"), false, 0.0, 1e-5, false);
    y = torch::relu(torch::max_pool2d(y, 2, 2));
    y = torch::clamp(torch::conv2d(y, t("w2")) + t("b2"), 0.0, 4.0);
    y = torch::relu(torch::conv2d(torch::avg_pool2d(y, 2, 2), t("w3")));
    y = torch::adaptive_avg_pool2d(y, {1, 1}).flatten(1);
    y = torch::relu(torch::linear(y, t("w4"), t("b4")));
    return torch::matmul(y, t("w5")) + t("b5");
  }
};

std::vector<FloatLayer> imported_layers(const Cnn& cnn) {
  return float_layers(floatnet::parse_onnx_layers(cnn.bytes, "cnn.onnx"), InputShape{1, 28, 28, 10});
}

TEST(OnnxFloatLayers, ImportedLayersComputeWhatTheOperatorsDo) {
  const Cnn cnn;
  const auto layers = imported_layers(cnn);
  ASSERT_EQ(layers.size(), 9u); // conv, pool, conv, avgpool, conv, avgpool, flatten, dense, dense
  torch::manual_seed(2);
  const auto x = torch::randn({5, 1, 28, 28}, torch::kDouble);
  torch::Tensor y = x;
  for (const auto& l : layers) y = forward(l, y);
  const auto expected = cnn.reference(x);
  EXPECT_LT((y - expected).abs().max().item<double>(), 1e-9 * (1 + expected.abs().max().item<double>()));
}

TEST(OnnxFloatLayers, APyTorchExportGivesPyTorchsLogits) {
  // tests/floatnet/fixtures/make_small_cnn.py wrote the file and printed these logits (PyTorch, float32).
  const auto imported =
      floatnet::read_onnx_layers(std::string(FXNN_SOURCE_DIR) + "/tests/floatnet/fixtures/small_cnn.onnx");
  torch::Tensor y = torch::linspace(-1, 1, 64, torch::kDouble).view({1, 1, 8, 8});
  for (const auto& l : float_layers(imported, InputShape{1, 8, 8, 5})) y = forward(l, y);
  const std::vector<double> pytorch{-0.268392, -0.365416, 0.329772, -0.265569, -0.068424};
  for (size_t i = 0; i < pytorch.size(); ++i)
    EXPECT_NEAR(y[0][static_cast<int64_t>(i)].item<double>(), pytorch[i], 2e-6);
}

TEST(OnnxFloatLayers, ImagesOfAnotherShapeOrClassCountAreRefused) {
  const Cnn cnn;
  const auto imported = floatnet::parse_onnx_layers(cnn.bytes, "cnn.onnx");
  try {
    float_layers(imported, InputShape{3, 32, 32, 10});
    FAIL() << "a 1x28x28 network took 3x32x32 images";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cnn.onnx: the network takes 1x28x28 inputs, the data set gives 3x32x32 images");
  }
  EXPECT_THROW(float_layers(imported, InputShape{1, 28, 28, 100}), std::runtime_error);
}

TEST(OnnxFloatLayers, LowBitNetworkWithAveragePoolingRunsAsItsSimulation) {
  const Cnn cnn;
  const auto layers = imported_layers(cnn);
  const auto config =
      ExperimentConfig::parse("name: onnx_cnn\ntransform:\n  mean: [0.5]\n  std: [0.25]\n", "onnx_cnn.yaml");
  torch::manual_seed(3);
  data::ImageDataset images;
  images.images = torch::randint(0, 256, {96, 1, 28, 28}, torch::kUInt8);
  images.labels = torch::randint(0, 10, {96}, torch::kLong);
  images.num_classes = 10;
  for (const LowbitMode mode : {LowbitMode::kShiftClip, LowbitMode::kFloatScale}) {
    LowbitOptions o;
    o.with_mode(mode).with_bits(3).with_calibration_images(64);
    const LowbitConversion conversion = convert_to_lowbit(layers, config, images, o);
    int avg_pools = 0;
    for (const auto& node : conversion.network.nodes)
      if (node.op == ir::OpKind::kAvgPool) {
        ++avg_pools;
        EXPECT_EQ(node.requantize->multiplier, std::vector<int64_t>{1}); // the sum, exact
      }
    EXPECT_EQ(avg_pools, 2);
    if (mode == LowbitMode::kShiftClip) EXPECT_TRUE(shift_clip_violations(conversion.network).empty());
    InferenceOptions inference;
    inference.check = true;
    inference.quiet = true;
    const InferenceReport r = run_inference(conversion.network, images, inference);
    EXPECT_EQ(r.code_mismatches, 0);
  }
}

} // namespace
} // namespace fxnn::lowbit
