#pragma once
// Small ONNX models built through the protobuf API, for the importer and command-line tests.

#include <onnx/onnx_pb.h>

#include <cstring>
#include <string>
#include <vector>

namespace fxnn::testing_support {

/// Builds small ONNX models through the protobuf API.
class OnnxBuilder {
 public:
  OnnxBuilder(int opset, std::vector<int64_t> input_dims) {
    model_.set_ir_version(7);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    auto* in = model_.mutable_graph()->add_input();
    in->set_name("x");
    auto* tensor = in->mutable_type()->mutable_tensor_type();
    tensor->set_elem_type(onnx::TensorProto::FLOAT);
    for (int64_t d : input_dims) {
      if (d < 0)
        tensor->mutable_shape()->add_dim()->set_dim_param("N");
      else
        tensor->mutable_shape()->add_dim()->set_dim_value(d);
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

} // namespace fxnn::testing_support
