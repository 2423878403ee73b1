#include "graph_builder.h"

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace fxnn::onnx_export {

namespace {

/// Appends the little-endian bytes of `value` (x86-64 is little endian, as ONNX raw_data is).
template <typename T>
void append_raw(std::string& raw, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  raw.append(bytes, sizeof(T));
}

std::string type_tag(ElementType type) { return onnx::TensorProto_DataType_Name(type); }

void set_shape(onnx::ValueInfoProto& info, ElementType type, const std::vector<int64_t>& sample_shape) {
  auto* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(type);
  auto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param("N");
  for (int64_t d : sample_shape) shape->add_dim()->set_dim_value(d);
}

} // namespace

void GraphBuilder::claim(const std::string& name) {
  if (!names_.insert(name).second) throw std::logic_error("onnx export: the tensor name '" + name + "' is used twice");
}

std::string GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                               const std::vector<Attribute>& attributes, const std::string& domain) {
  claim(output);
  onnx::NodeProto& n = *graph_.add_node();
  n.set_op_type(op);
  n.set_name(output);
  if (!domain.empty()) n.set_domain(domain);
  for (const auto& in : inputs) n.add_input(in);
  n.add_output(output);
  for (const Attribute& a : attributes) {
    onnx::AttributeProto& attr = *n.add_attribute();
    attr.set_name(a.name);
    if (const auto* i = std::get_if<int64_t>(&a.value)) {
      attr.set_type(onnx::AttributeProto_AttributeType_INT);
      attr.set_i(*i);
    } else if (const auto* list = std::get_if<std::vector<int64_t>>(&a.value)) {
      attr.set_type(onnx::AttributeProto_AttributeType_INTS);
      for (int64_t v : *list) attr.add_ints(v);
    } else {
      attr.set_type(onnx::AttributeProto_AttributeType_STRING);
      attr.set_s(std::get<std::string>(a.value));
    }
  }
  return output;
}

onnx::TensorProto& GraphBuilder::initializer(const std::string& name, const std::vector<int64_t>& dims,
                                             ElementType type) {
  claim(name);
  onnx::TensorProto& t = *graph_.add_initializer();
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  return t;
}

std::string GraphBuilder::integers(const std::string& name, const std::vector<int64_t>& dims,
                                   const std::vector<int64_t>& values, ElementType type) {
  std::string raw;
  for (int64_t v : values) {
    switch (type) {
      case onnx::TensorProto_DataType_INT8: append_raw(raw, static_cast<int8_t>(v)); break;
      case onnx::TensorProto_DataType_UINT8: append_raw(raw, static_cast<uint8_t>(v)); break;
      case onnx::TensorProto_DataType_INT16: append_raw(raw, static_cast<int16_t>(v)); break;
      case onnx::TensorProto_DataType_UINT16: append_raw(raw, static_cast<uint16_t>(v)); break;
      case onnx::TensorProto_DataType_INT32: append_raw(raw, static_cast<int32_t>(v)); break;
      case onnx::TensorProto_DataType_INT64: append_raw(raw, v); break;
      default: throw std::logic_error("onnx export: " + type_tag(type) + " is not an integer type");
    }
  }
  initializer(name, dims, type).set_raw_data(raw);
  return name;
}

std::string GraphBuilder::reals(const std::string& name, const std::vector<int64_t>& dims,
                                const std::vector<double>& values, ElementType type) {
  std::string raw;
  for (double v : values) {
    if (type == onnx::TensorProto_DataType_FLOAT)
      append_raw(raw, static_cast<float>(v));
    else if (type == onnx::TensorProto_DataType_DOUBLE)
      append_raw(raw, v);
    else
      throw std::logic_error("onnx export: " + type_tag(type) + " is not a float type");
  }
  initializer(name, dims, type).set_raw_data(raw);
  return name;
}

std::string GraphBuilder::scalar(double value, ElementType type) {
  char text[64];
  std::snprintf(text, sizeof(text), "%a", value); // hexadecimal: one name per distinct value
  std::string name = "const/" + type_tag(type) + "/" + text;
  if (scalars_.count(name)) return name;
  if (type == onnx::TensorProto_DataType_FLOAT || type == onnx::TensorProto_DataType_DOUBLE)
    reals(name, {}, {value}, type);
  else
    integers(name, {}, {static_cast<int64_t>(value)}, type);
  scalars_.insert(name);
  return name;
}

void GraphBuilder::input(const std::string& name, ElementType type, const std::vector<int64_t>& sample_shape) {
  claim(name);
  set_shape(*graph_.add_input(), type, sample_shape);
  graph_.mutable_input(graph_.input_size() - 1)->set_name(name);
}

void GraphBuilder::output(const std::string& name, ElementType type, const std::vector<int64_t>& sample_shape) {
  onnx::ValueInfoProto& info = *graph_.add_output();
  info.set_name(name);
  set_shape(info, type, sample_shape);
}

std::vector<int64_t> channel_dims(size_t entries, size_t sample_rank) {
  if (entries == 1) return {};
  std::vector<int64_t> dims(sample_rank, 1);
  dims[0] = static_cast<int64_t>(entries);
  return dims;
}

ElementType integer_type(int64_t lo, int64_t hi) {
  if (lo >= 0 && hi <= 255 && hi > 127) return onnx::TensorProto_DataType_UINT8;
  if (lo >= -128 && hi <= 127) return onnx::TensorProto_DataType_INT8;
  if (lo >= -32768 && hi <= 32767) return onnx::TensorProto_DataType_INT16;
  if (lo >= INT32_MIN && hi <= INT32_MAX) return onnx::TensorProto_DataType_INT32;
  return onnx::TensorProto_DataType_INT64;
}

} // namespace fxnn::onnx_export
