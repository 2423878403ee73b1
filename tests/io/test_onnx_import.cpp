#include "fxnn/io/onnx_import.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstring>
#include <stdexcept>

namespace fxnn::io {
namespace {

/// Builds small ONNX models through the protobuf API.
class Builder {
 public:
  Builder(int opset, std::vector<int64_t> input_dims) {
    model_.set_ir_version(7);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    auto* in = model_.mutable_graph()->add_input();
    in->set_name("x");
    auto* tensor = in->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : input_dims) {
      if (d < 0) tensor->mutable_shape()->add_dim()->set_dim_param("N");
      else tensor->mutable_shape()->add_dim()->set_dim_value(d);
    }
  }

  /// A float initializer, stored as raw_data or float_data.
  void constant(const std::string& name, std::vector<int64_t> dims, const std::vector<float>& values, bool raw) {
    auto* t = model_.mutable_graph()->add_initializer();
    fill(t, name, dims, values, raw);
  }
  void int64_constant(const std::string& name, const std::vector<int64_t>& values) {
    auto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(static_cast<int64_t>(values.size()));
    for (int64_t v : values) t->add_int64_data(v);
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                        const std::string& name) {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(output);
    return n;
  }
  static void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* n, const std::string& name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void fill(onnx::TensorProto* t, const std::string& name, const std::vector<int64_t>& dims,
                   const std::vector<float>& values, bool raw) {
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) t->add_dims(d);
    if (raw) {
      std::string bytes(values.size() * sizeof(float), '\0');
      std::memcpy(bytes.data(), values.data(), bytes.size());
      t->set_raw_data(bytes);
    } else {
      for (float v : values) t->add_float_data(v);
    }
  }
  std::string bytes(const std::string& output) {
    model_.mutable_graph()->add_output()->set_name(output);
    std::string out;
    model_.SerializeToString(&out);
    return out;
  }

 private:
  onnx::ModelProto model_;
};

double relu(double v) { return v > 0 ? v : 0; }

TEST(OnnxImport, KerasStyleMatMulAddRelu) {
  Builder b(9, {-1, 2});
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
  Builder b(6, {1, 1, 1, 3});
  b.constant("avg", {1, 1, 1, 3}, {1, 1, 1}, true);
  b.constant("W", {2, 3}, {1, 0, -1, 0.5f, 0.5f, 0.5f}, true); // [out, in], transB = 1
  b.constant("B", {2}, {1, -1}, true);
  b.node("Sub", {"x", "avg"}, "s", "input_Sub");
  auto* g = b.node("Gemm", {"s", "W", "B"}, "y", "fc");
  Builder::attr(g, "transB", int64_t{1});
  Builder::attr(g, "alpha", 2.0f);
  Builder::attr(g, "beta", 0.5f);
  const FloatNetwork net = parse_onnx(b.bytes("y"), "matlab.onnx");
  ASSERT_EQ(net.layers.size(), 1u);
  const std::vector<double> x{3, 5, -2};
  const std::vector<double> y = net.evaluate(x);
  EXPECT_DOUBLE_EQ(y[0], 2 * ((3 - 1) - (-2 - 1)) + 0.5);
  EXPECT_DOUBLE_EQ(y[1], 2 * 0.5 * ((3 - 1) + (5 - 1) + (-2 - 1)) - 0.5);
}

TEST(OnnxImport, ConvolutionsCoveringTheInputAreDenseLayers) {
  Builder b(8, {1, 1, 1, 2});
  b.constant("W1", {3, 1, 1, 2}, {1, 2, -1, 1, 0.5f, -0.5f}, true);
  b.constant("B1", {3}, {0, 1, -1}, true);
  b.constant("W2", {1, 3, 1, 1}, {1, 1, 1}, true);
  auto* c1 = b.node("Conv", {"x", "W1", "B1"}, "c1", "Operation_1");
  Builder::ints(c1, "kernel_shape", {1, 2});
  Builder::ints(c1, "pads", {0, 0, 0, 0});
  b.node("Relu", {"c1"}, "r1", "relu_1");
  b.node("Conv", {"r1", "W2"}, "c2", "Operation_2");
  b.node("Flatten", {"c2"}, "y", "flat");
  const FloatNetwork net = parse_onnx(b.bytes("y"), "unicycle.onnx");
  ASSERT_EQ(net.layers.size(), 2u);
  const std::vector<double> x{1.0, 3.0};
  EXPECT_DOUBLE_EQ(net.evaluate(x)[0], relu(1 + 6) + relu(-1 + 3 + 1) + relu(0.5 - 1.5 - 1));
}

TEST(OnnxImport, ReshapeAndClipBecomeAClippedRelu) {
  Builder b(11, {1, 2, 1});
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
    Builder b(9, {-1, 2});
    b.constant("W", {2, 2}, {1, 0, 0, 1}, true);
    b.node("MatMul", {"x", "W"}, "m", "dense");
    b.node("Softmax", {"m"}, "y", "probabilities");
    expect_error(b.bytes("y"), "bad.onnx: unsupported ONNX operator 'Softmax' (node 'probabilities')");
  }
  {
    Builder b(14, {-1, 2});
    b.node("Relu", {"x"}, "y", "r");
    expect_error(b.bytes("y"), "opset 14 is not supported");
  }
  {
    Builder b(8, {1, 1, 3, 3});
    b.constant("W", {1, 1, 2, 2}, {1, 1, 1, 1}, true);
    b.node("Conv", {"x", "W"}, "y", "small_kernel");
    expect_error(b.bytes("y"), "Conv node 'small_kernel': kernel [1,1,2,2] does not cover the whole input");
  }
  {
    Builder b(9, {-1, 2});
    b.constant("W", {2, 2}, {1, 0, 0, 1}, true);
    b.node("MatMul", {"x", "W"}, "m", "dense");
    b.node("Add", {"m", "x"}, "y", "residual");
    expect_error(b.bytes("y"), "branching graphs are not supported");
  }
  expect_error("this is not a protobuf", "bad.onnx: not an ONNX model");
}

} // namespace
} // namespace fxnn::io
