#include "fxnn/floatnet/onnx_import.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "../synth/synth_test_util.h"
#include "fxnn/floatnet/network_file.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/synth/input_box.h"
#include "onnx_builder.h"

namespace fxnn::floatnet {
namespace {

using testing_support::OnnxBuilder;

double relu(double v) { return v > 0 ? v : 0; }

TEST(OnnxImport, KerasStyleMatMulAddRelu) {
  OnnxBuilder b(9, {-1, 2});
  b.constant("W1", {2, 3}, {1, 2, 3, -1, 0.5f, 0.25f}, false); // [in, out]
  b.constant("b1", {3}, {0.5f, -1, 0}, true);
  b.constant("W2", {3, 1}, {1, -2, 0.5f}, true);
  b.constant("b2", {1}, {0.125f}, false);
  b.node("MatMul", {"x", "W1"}, "m1", "dense_1");
  b.node("Add", {"m1", "b1"}, "a1", "add1");
  b.node("Relu", {"a1"}, "r1", "relu1");
  b.node("MatMul", {"r1", "W2"}, "m2", "dense_2");
  b.node("Add", {"b2", "m2"}, "y", "add2");
  const FloatNetwork net = parse_onnx(b.bytes("y"), "keras.onnx");
  ASSERT_EQ(net.layers.size(), 2u);
  EXPECT_EQ(net.layers[0].activation, Activation::kRelu);
  EXPECT_EQ(net.layers[1].activation, Activation::kLinear);
  for (double x0 : {-1.0, 0.3, 2.0})
    for (double x1 : {-0.5, 1.0}) {
      const double h0 = relu(x0 - x1 + 0.5), h1 = relu(2 * x0 + 0.5 * x1 - 1), h2 = relu(3 * x0 + 0.25 * x1);
      EXPECT_DOUBLE_EQ(net.evaluate(std::vector<double>{x0, x1})[0], h0 - 2 * h1 + 0.5 * h2 + 0.125);
    }
}

TEST(OnnxImport, MatlabStyleSubGemmOnAFourDimensionalInput) {
  OnnxBuilder b(6, {1, 1, 1, 3});
  b.constant("avg", {1, 1, 1, 3}, {1, 1, 1}, true);
  b.constant("W", {2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f}, true); // [out, in], transB = 1
  b.constant("B", {2}, {1, -1}, true);
  b.node("Sub", {"x", "avg"}, "s", "input_Sub");
  auto* g = b.node("Gemm", {"s", "W", "B"}, "y", "fc");
  OnnxBuilder::attr(g, "transB", int64_t{1});
  OnnxBuilder::attr(g, "alpha", 2.0f);
  OnnxBuilder::attr(g, "beta", 0.5f);
  const FloatNetwork net = parse_onnx(b.bytes("y"), "matlab.onnx");
  ASSERT_EQ(net.layers.size(), 1u);
  const std::vector<double> x{3, 5, -2};
  const std::vector<double> y = net.evaluate(x);
  EXPECT_DOUBLE_EQ(y[0], 2 * ((3 - 1) - (-2 - 1)) + 0.5);
  EXPECT_DOUBLE_EQ(y[1], 2 * 0.5 * ((3 - 1) + (5 - 1) + (-2 - 1)) - 0.5);
}

TEST(OnnxImport, ConvolutionsCoveringTheInputAreDenseLayers) {
  OnnxBuilder b(8, {1, 1, 1, 2});
  b.constant("W1", {3, 1, 1, 2}, {1, 2, -1, 1, 0.5f, -0.5f}, true);
  b.constant("B1", {3}, {0, 1, -1}, true);
  b.constant("W2", {1, 3, 1, 1}, {1, 1, 1}, true);
  auto* c1 = b.node("Conv", {"x", "W1", "B1"}, "c1", "Operation_1");
  OnnxBuilder::ints(c1, "kernel_shape", {1, 2});
  OnnxBuilder::ints(c1, "pads", {0, 0, 0, 0});
  b.node("Relu", {"c1"}, "r1", "relu_1");
  b.node("Conv", {"r1", "W2"}, "c2", "Operation_2");
  b.node("Flatten", {"c2"}, "y", "flat");
  const FloatNetwork net = parse_onnx(b.bytes("y"), "unicycle.onnx");
  ASSERT_EQ(net.layers.size(), 2u);
  const std::vector<double> x{1.0, 3.0};
  EXPECT_DOUBLE_EQ(net.evaluate(x)[0], relu(1 + 6) + relu(-1 + 3 + 1) + relu(0.5 - 1.5 - 1));
}

TEST(OnnxImport, ReshapeAndClipBecomeAClippedRelu) {
  OnnxBuilder b(11, {1, 2, 1});
  b.int64_constant("shape", {0, -1});
  b.constant("W", {2, 2}, {1, 1, 1, -1}, false);
  b.constant("lo", {}, {0}, false);
  b.constant("hi", {}, {1.5f}, false);
  b.node("Reshape", {"x", "shape"}, "r", "reshape");
  b.node("MatMul", {"r", "W"}, "m", "mm");
  b.node("Clip", {"m", "lo", "hi"}, "y", "clip");
  const FloatNetwork net = parse_onnx(b.bytes("y"), "clip.onnx");
  ASSERT_EQ(net.layers.size(), 1u);
  EXPECT_EQ(net.layers[0].activation, Activation::kClippedRelu);
  EXPECT_EQ(net.layers[0].clip, 1.5);
  const std::vector<double> y = net.evaluate(std::vector<double>{2.0, 0.5});
  EXPECT_DOUBLE_EQ(y[0], 1.5);
  EXPECT_DOUBLE_EQ(y[1], 1.5);
  EXPECT_DOUBLE_EQ(net.evaluate(std::vector<double>{0.25, 0.5})[1], 0.0);
}

void expect_error(const std::string& bytes, const std::string& fragment) {
  try {
    parse_onnx(bytes, "bad.onnx");
    FAIL() << "no error for " << fragment;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(OnnxImport, UnsupportedOperatorsAndFilesAreErrorsNamingThem) {
  {
    OnnxBuilder b(9, {-1, 2});
    b.constant("W", {2, 2}, {1, 0, 0, 1}, true);
    b.node("MatMul", {"x", "W"}, "m", "dense");
    b.node("Softmax", {"m"}, "y", "probabilities");
    expect_error(b.bytes("y"), "bad.onnx: unsupported ONNX operator 'Softmax' (node 'probabilities')");
  }
  {
    OnnxBuilder b(14, {-1, 2});
    b.node("Relu", {"x"}, "y", "r");
    expect_error(b.bytes("y"), "opset 14 is not supported");
  }
  {
    OnnxBuilder b(8, {1, 1, 3, 3});
    b.constant("W", {1, 1, 2, 2}, {1, 1, 1, 1}, true);
    b.node("Conv", {"x", "W"}, "y", "small_kernel");
    expect_error(b.bytes("y"), "Conv node 'small_kernel': kernel [1,1,2,2] does not cover the whole input");
  }
  {
    OnnxBuilder b(9, {-1, 2});
    b.constant("W", {2, 2}, {1, 0, 0, 1}, true);
    b.node("MatMul", {"x", "W"}, "m", "dense");
    b.node("Add", {"m", "x"}, "y", "residual");
    expect_error(b.bytes("y"), "branching graphs are not supported");
  }
  expect_error("this is not a protobuf", "bad.onnx: not an ONNX model");
}

// The ONNX files of the benchmark suite: their opsets and operators are the ones this importer is
// for (Keras-style MatMul + Add + Relu at opset 9, MATLAB-style Sub + Gemm at opset 6, Sub + Conv
// whose kernel covers the input + Flatten at opset 8), and each imports to the layer sizes the suite
// lists and computes its NNet twin's function.
TEST(OnnxImport, RealControllerFilesOfTheSuite) {
  const std::string dir = synth_testing::controllers_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared controllers in this checkout";
  const std::map<std::string, std::pair<int, std::set<std::string>>> expected = {
      {"acc_controller_5_20", {6, {"Sub", "Gemm", "Relu"}}},
      {"controller_double_pendulum_less_robust", {9, {"MatMul", "Add", "Relu"}}},
      {"controller_single_pendulum", {9, {"MatMul", "Add", "Relu"}}},
      {"unicycle_controllerB", {8, {"Sub", "Conv", "Relu", "Flatten"}}},
  };
  std::map<std::string, synth::Benchmark> suite;
  for (const synth::Benchmark& b : synth::load_benchmarks(dir + "/benchmarks.yaml")) suite[b.name] = b;
  for (const auto& [name, ops] : expected) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(suite.count(name));
    const synth::Benchmark& b = suite.at(name);
    onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(read_file(b.model)));
    ASSERT_EQ(model.opset_import_size(), 1);
    EXPECT_EQ(model.opset_import(0).version(), ops.first);
    std::set<std::string> seen;
    for (const auto& node : model.graph().node()) seen.insert(node.op_type());
    EXPECT_EQ(seen, ops.second);

    const FloatNetwork net = read_network_file(b.model);
    std::vector<int64_t> sizes{net.inputs()};
    for (const DenseLayer& layer : net.layers) sizes.push_back(layer.outputs());
    EXPECT_EQ(sizes, b.layers);
    for (size_t l = 0; l + 1 < net.layers.size(); ++l) EXPECT_EQ(net.layers[l].activation, Activation::kRelu);
  }
  // The double pendulum's two files (the other pairs are compared in test_nnet_import.cpp).
  const FloatNetwork onnx = read_network_file(suite.at("controller_double_pendulum_less_robust").model);
  const FloatNetwork nnet = read_network_file(dir + "/DoublePendulumNonRobustNN.nnet");
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(1.0, 1.3);
  for (int k = 0; k < 200; ++k) {
    const std::vector<double> x{u(rng), u(rng), u(rng), u(rng)};
    for (size_t o = 0; o < 2; ++o) EXPECT_NEAR(onnx.evaluate(x)[o], nnet.evaluate(x)[o], 1e-6);
  }
}

} // namespace
} // namespace fxnn::floatnet
