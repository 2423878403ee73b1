// floatnet::parse_onnx_layers: the chain of layers the low-bit converter takes, from the operators
// PyTorch and Keras export for a CNN (batch norm and biases folded, a max pooling before its ReLU
// moved after it), and one line naming the node for everything without a low-bit form.

#include "fxnn/floatnet/onnx_layer_import.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "onnx_builder.h"

namespace fxnn::floatnet {
namespace {

using testing_support::OnnxBuilder;
using Kind = ImportedLayer::Kind;

std::string error_of(const std::string& bytes) {
  try {
    parse_onnx_layers(bytes, "net.onnx");
  } catch (const std::runtime_error& e) { return e.what(); }
  return "";
}

void expect_refused(const std::string& bytes, const std::string& fragment) {
  const std::string e = error_of(bytes);
  EXPECT_NE(e.find(fragment), std::string::npos) << e;
  EXPECT_EQ(e.rfind("net.onnx: ", 0), 0u) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

/// x [N,1,4,4] -> Conv 2x1x3x3 pad 1 -> BatchNormalization -> MaxPool 2 -> Relu -> Flatten -> Gemm 3x8.
OnnxBuilder conv_bn_pool_relu_gemm() {
  OnnxBuilder b(13, {-1, 1, 4, 4});
  b.constant("w", {2, 1, 3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0}, true);
  b.constant("cb", {2}, {0.5f, -0.5f}, true);
  b.constant("g", {2}, {2, 1}, false);
  b.constant("beta", {2}, {0.25f, 0}, false);
  b.constant("mean", {2}, {1, 0}, false);
  b.constant("var", {2}, {15, 0}, false);
  b.constant("fw", {3, 8}, std::vector<float>(24, 0.5f), true);
  b.constant("fb", {3}, {1, 2, 3}, true);
  auto* conv = b.node("Conv", {"x", "w", "cb"}, "c", "conv");
  OnnxBuilder::ints(conv, "pads", {1, 1, 1, 1});
  OnnxBuilder::ints(conv, "kernel_shape", {3, 3});
  auto* bn = b.node("BatchNormalization", {"c", "g", "beta", "mean", "var"}, "n", "bn");
  OnnxBuilder::attr(bn, "epsilon", 1.0f);
  auto* pool = b.node("MaxPool", {"n"}, "p", "pool");
  OnnxBuilder::ints(pool, "kernel_shape", {2, 2});
  OnnxBuilder::ints(pool, "strides", {2, 2});
  b.node("Relu", {"p"}, "r", "relu");
  b.node("Flatten", {"r"}, "f", "flatten");
  auto* fc = b.node("Gemm", {"f", "fw", "fb"}, "y", "fc");
  OnnxBuilder::attr(fc, "transB", int64_t{1});
  return b;
}

TEST(OnnxLayerImport, FoldsBatchNormAndMovesTheMaxPoolAfterTheRelu) {
  const ImportedNetwork net = parse_onnx_layers(conv_bn_pool_relu_gemm().bytes("y"), "net.onnx");
  EXPECT_EQ(net.input_shape, (std::vector<int64_t>{1, 4, 4}));
  ASSERT_EQ(net.layers.size(), 4u);
  const ImportedLayer& conv = net.layers[0];
  EXPECT_EQ(conv.kind, Kind::kConv2d);
  EXPECT_EQ(conv.name, "conv1");
  EXPECT_EQ(conv.kernel, 3);
  EXPECT_EQ(conv.padding, 1);
  ASSERT_TRUE(conv.clip.has_value());
  EXPECT_TRUE(std::isinf(*conv.clip));
  // y = (z - mean) a + beta with a = g / sqrt(var + epsilon): channel 0 a = 2 / 4, channel 1 a = 1.
  EXPECT_DOUBLE_EQ(conv.weight[0], 0.5);
  EXPECT_DOUBLE_EQ(conv.bias[0], (0.5 - 1) * 0.5 + 0.25);
  EXPECT_DOUBLE_EQ(conv.weight[9 + 4], 2.0);
  EXPECT_DOUBLE_EQ(conv.bias[1], -0.5);
  EXPECT_EQ(net.layers[1].kind, Kind::kMaxPool);
  EXPECT_EQ(net.layers[1].kernel, 2);
  EXPECT_EQ(net.layers[2].kind, Kind::kFlatten);
  const ImportedLayer& fc = net.layers[3];
  EXPECT_EQ(fc.kind, Kind::kDense);
  EXPECT_EQ(fc.weight_shape, (std::vector<int64_t>{3, 8}));
  EXPECT_FALSE(fc.clip.has_value());
  EXPECT_EQ(fc.bias, (std::vector<double>{1, 2, 3}));
}

TEST(OnnxLayerImport, MatMulAddClipAndGlobalAveragePool) {
  OnnxBuilder b(17, {1, 2, 2, 2});
  b.constant("w", {3, 2, 1, 1}, {1, 2, 3, 4, 5, 6}, true);
  b.constant("cb", {1, 3, 1, 1}, {1, 1, 1}, true);
  b.constant("six", {}, {6}, false);
  b.constant("zero", {}, {0}, false);
  b.constant("m", {3, 2}, {1, 2, 3, 4, 5, 6}, true);
  b.constant("mb", {2}, {-1, 1}, true);
  b.int64_constant("shape", {-1, 3});
  b.node("Conv", {"x", "w"}, "c", "conv");
  b.node("Add", {"cb", "c"}, "a", "bias");
  b.node("Clip", {"a", "zero", "six"}, "r", "relu6");
  b.node("GlobalAveragePool", {"r"}, "g", "gap");
  b.node("Reshape", {"g", "shape"}, "f", "reshape");
  b.node("MatMul", {"f", "m"}, "mm", "fc");
  b.node("Add", {"mm", "mb"}, "y", "fc_bias");
  const ImportedNetwork net = parse_onnx_layers(b.bytes("y"), "net.onnx");
  ASSERT_EQ(net.layers.size(), 4u);
  EXPECT_EQ(net.layers[0].bias, (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(net.layers[0].clip, 6.0);
  EXPECT_EQ(net.layers[1].kind, Kind::kAvgPool);
  EXPECT_EQ(net.layers[1].kernel, 2);
  EXPECT_EQ(net.layers[1].stride, 2);
  EXPECT_EQ(net.layers[2].kind, Kind::kFlatten);
  // MatMul's [in, out] matrix becomes the [out, in] weight.
  EXPECT_EQ(net.layers[3].weight, (std::vector<double>{1, 3, 5, 2, 4, 6}));
  EXPECT_EQ(net.layers[3].bias, (std::vector<double>{-1, 1}));
}

TEST(OnnxLayerImport, AFlatInputStartsWithAFlatten) {
  OnnxBuilder b(13, {-1, 4});
  b.constant("w", {4, 2}, {1, 2, 3, 4, 5, 6, 7, 8}, true);
  b.node("Gemm", {"x", "w"}, "y", "fc");
  const ImportedNetwork net = parse_onnx_layers(b.bytes("y"), "net.onnx");
  EXPECT_EQ(net.input_shape, (std::vector<int64_t>{4}));
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.layers[0].kind, Kind::kFlatten);
  EXPECT_EQ(net.layers[1].weight, (std::vector<double>{1, 3, 5, 7, 2, 4, 6, 8}));
}

TEST(OnnxLayerImport, OperatorsWithoutALowBitFormAreOneLineNamingTheNode) {
  expect_refused("not a protobuf at all", "not an ONNX model");
  {
    OnnxBuilder b = conv_bn_pool_relu_gemm();
    b.node("Sigmoid", {"y"}, "s", "squash");
    expect_refused(b.bytes("s"), "unsupported ONNX operator 'Sigmoid' (node 'squash')");
  }
  {
    OnnxBuilder b = conv_bn_pool_relu_gemm();
    b.node("Relu", {"y"}, "s", "last_relu");
    expect_refused(b.bytes("s"), "must end in a Conv, Gemm or MatMul without activation");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.constant("w", {1, 1, 1, 1}, {1}, true);
    b.node("Conv", {"x", "w"}, "c1", "conv1");
    b.node("Relu", {"c1"}, "r1", "relu1");
    b.node("Conv", {"r1", "w"}, "c2", "conv2");
    b.node("Add", {"c2", "r1"}, "s", "residual");
    expect_refused(b.bytes("s"), "Add node 'residual': adds two computed values (a residual connection)");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.constant("w", {1, 1, 1, 1}, {1}, true);
    b.node("Conv", {"x", "w"}, "c1", "conv1");
    b.node("Conv", {"c1", "w"}, "c2", "conv2");
    expect_refused(b.bytes("c2"), "Conv node 'conv2': follows Conv 'conv1' with no Relu or Clip between them");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.constant("w", {1, 1, 1, 1}, {1}, true);
    b.node("Conv", {"x", "w"}, "c1", "conv1");
    auto* pool = b.node("AveragePool", {"c1"}, "p", "avg");
    OnnxBuilder::ints(pool, "kernel_shape", {2, 2});
    expect_refused(b.bytes("p"), "AveragePool node 'avg': comes between Conv 'conv1' and its activation");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.constant("w", {1, 1, 1, 2}, {1, 1}, true);
    b.node("Conv", {"x", "w"}, "c1", "wide");
    expect_refused(b.bytes("c1"), "Conv node 'wide': kernel [1,1,1,2] is not square");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.constant("w", {1, 1, 1, 1}, {1}, true);
    b.constant("lo", {}, {-1}, false);
    b.node("Conv", {"x", "w"}, "c1", "conv1");
    b.node("Clip", {"c1", "lo"}, "r", "hardtanh");
    expect_refused(b.bytes("r"), "Clip node 'hardtanh': only Clip with min = 0");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.int64_constant("shape", {1, 2, 8});
    b.node("Reshape", {"x", "shape"}, "r", "unflatten");
    expect_refused(b.bytes("r"), "Reshape node 'unflatten': target shape");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    auto* pool = b.node("MaxPool", {"x"}, "p", "padded");
    OnnxBuilder::ints(pool, "kernel_shape", {2, 2});
    OnnxBuilder::ints(pool, "pads", {1, 1, 1, 1});
    expect_refused(b.bytes("p"), "MaxPool node 'padded': padded pooling is not supported");
  }
  {
    OnnxBuilder b(13, {1, 1, 4, 4});
    b.node("Relu", {"x"}, "r", "input_relu");
    expect_refused(b.bytes("r"), "Relu node 'input_relu': does not follow a Conv, Gemm or MatMul");
  }
  {
    OnnxBuilder b(22, {1, 4});
    b.constant("w", {4, 2}, std::vector<float>(8, 1), true);
    b.node("Gemm", {"x", "w"}, "y", "fc");
    expect_refused(b.bytes("y"), "opset 22 is not supported (opsets 7 to 21)");
  }
}

} // namespace
} // namespace fxnn::floatnet
