#include "onnx_chain_reader.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace fxnn::floatnet {

namespace {

template <typename T>
std::vector<long double> from_raw(const std::string& raw, const std::string& what) {
  if (raw.size() % sizeof(T) != 0)
    throw std::runtime_error(what + ": raw_data size is not a multiple of the element size");
  std::vector<long double> out(raw.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T)); // ONNX raw data is little endian, as is x86-64
    out[i] = static_cast<long double>(v);
  }
  return out;
}

} // namespace

int64_t onnx_numel(const OnnxShape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && n > kMaxOnnxElements / d)) return -1;
    n *= d;
  }
  return n;
}

std::string onnx_shape_str(const OnnxShape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

OnnxChainReader::OnnxChainReader(const std::string& bytes, std::string source) : source_(std::move(source)) {
  if (!model_.ParseFromString(bytes))
    throw std::runtime_error(source_ + ": not an ONNX model (the protobuf does not parse)");
}

void OnnxChainReader::walk(int min_opset, int max_opset) {
  check_opset(min_opset, max_opset);
  read_initializers(); // before the input: inputs that are initializers are not data
  find_input();
  for (const auto& node : model_.graph().node()) apply(node);
  check_single_output();
}

void OnnxChainReader::fail(const std::string& message) const { throw std::runtime_error(source_ + ": " + message); }

void OnnxChainReader::fail(const onnx::NodeProto& node, const std::string& message) const {
  fail(node.op_type() + " node '" + node.name() + "': " + message);
}

void OnnxChainReader::check_opset(int min_opset, int max_opset) {
  bool found = false;
  for (const auto& op : model_.opset_import()) {
    if (!op.domain().empty() && op.domain() != "ai.onnx") continue;
    found = true;
    if (op.version() < min_opset || op.version() > max_opset)
      fail("opset " + std::to_string(op.version()) + " is not supported (opsets " + std::to_string(min_opset) + " to " +
           std::to_string(max_opset) + ")");
    opset_ = static_cast<int>(op.version());
  }
  if (!found) fail("the model imports no version of the default ONNX operator set");
}

void OnnxChainReader::read_initializers() {
  for (const auto& t : model_.graph().initializer())
    constants_[t.name()] = to_constant(t, "initializer '" + t.name() + "'");
}

const onnx::ValueInfoProto& OnnxChainReader::data_input() {
  const onnx::ValueInfoProto* input = nullptr;
  for (const auto& in : model_.graph().input()) {
    if (constants_.count(in.name())) continue; // old exporters list initializers as inputs
    if (input) fail("the graph has more than one data input ('" + input->name() + "', '" + in.name() + "')");
    input = &in;
  }
  if (!input) fail("the graph has no data input");
  running_ = input->name();
  return *input;
}

void OnnxChainReader::check_single_output() const {
  const onnx::GraphProto& graph = model_.graph();
  if (graph.output_size() != 1)
    fail("the graph has " + std::to_string(graph.output_size()) + " outputs; one is supported");
  if (graph.output(0).name() != running_)
    fail("the graph output '" + graph.output(0).name() + "' is not the result of the chain of supported operators");
}

OnnxConstant OnnxChainReader::to_constant(const onnx::TensorProto& t, const std::string& what) const {
  OnnxConstant c;
  c.dims.assign(t.dims().begin(), t.dims().end());
  if (onnx_numel(c.dims) < 0) fail(what + ": shape " + onnx_shape_str(c.dims) + " is negative or too large");
  if (t.data_location() == onnx::TensorProto::EXTERNAL) fail(what + ": external data is not supported");
  const bool raw = t.has_raw_data();
  const std::string where = source_ + ": " + what;
  switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      c.values = raw ? from_raw<float>(t.raw_data(), where)
                     : std::vector<long double>(t.float_data().begin(), t.float_data().end());
      break;
    case onnx::TensorProto::DOUBLE:
      c.values = raw ? from_raw<double>(t.raw_data(), where)
                     : std::vector<long double>(t.double_data().begin(), t.double_data().end());
      break;
    case onnx::TensorProto::INT64:
      c.values = raw ? from_raw<int64_t>(t.raw_data(), where)
                     : std::vector<long double>(t.int64_data().begin(), t.int64_data().end());
      break;
    case onnx::TensorProto::INT32:
      c.values = raw ? from_raw<int32_t>(t.raw_data(), where)
                     : std::vector<long double>(t.int32_data().begin(), t.int32_data().end());
      break;
    default:
      fail(what + ": element type " + std::to_string(t.data_type()) +
           " is not supported (float, double, int32, int64)");
  }
  if (static_cast<int64_t>(c.values.size()) != onnx_numel(c.dims))
    fail(what + ": " + std::to_string(c.values.size()) + " values for shape " + onnx_shape_str(c.dims));
  for (long double v : c.values)
    if (!std::isfinite(static_cast<double>(v))) fail(what + ": holds a value that is not finite");
  return c;
}

void OnnxChainReader::constant_node(const onnx::NodeProto& node) {
  OnnxConstant c;
  if (const auto* a = attribute(node, "value"))
    c = to_constant(a->t(), "Constant node '" + node.name() + "'");
  else if (const auto* f = attribute(node, "value_float"))
    c = OnnxConstant{{}, {static_cast<long double>(f->f())}};
  else if (const auto* fs = attribute(node, "value_floats"))
    c = OnnxConstant{{fs->floats_size()}, std::vector<long double>(fs->floats().begin(), fs->floats().end())};
  else if (const auto* i = attribute(node, "value_int"))
    c = OnnxConstant{{}, {static_cast<long double>(i->i())}};
  else if (const auto* is = attribute(node, "value_ints"))
    c = OnnxConstant{{is->ints_size()}, std::vector<long double>(is->ints().begin(), is->ints().end())};
  else
    fail(node, "has no supported value attribute");
  if (node.output_size() < 1) fail(node, "has no output");
  constants_[node.output(0)] = std::move(c);
}

void OnnxChainReader::check_chain_inputs(const onnx::NodeProto& node) const {
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    fail("unsupported ONNX operator '" + node.domain() + "." + node.op_type() + "' (node '" + node.name() + "')");
  bool uses_data = false;
  for (const auto& in : node.input()) uses_data = uses_data || is_data(in);
  if (uses_data) return;
  for (const auto& in : node.input())
    if (stale_.count(in))
      fail(node, "uses '" + in + "', an earlier value of the network (branching graphs are not supported)");
}

const OnnxConstant& OnnxChainReader::constant(const onnx::NodeProto& node, const std::string& name) const {
  auto it = constants_.find(name);
  if (it != constants_.end()) return it->second;
  if (stale_.count(name))
    fail(node, "uses '" + name + "', an earlier value of the network (branching graphs are not supported)");
  fail(node, "input '" + name + "' is neither the network's running value nor a constant");
}

long double OnnxChainReader::scalar(const onnx::NodeProto& node, const std::string& name) const {
  const OnnxConstant& c = constant(node, name);
  if (c.values.size() != 1) fail(node, "'" + name + "' must be a scalar");
  return c.values[0];
}

long double OnnxChainReader::clipped_relu_max(const onnx::NodeProto& node) const {
  require_data_input(node, 0);
  long double lo = -std::numeric_limits<long double>::infinity(), hi = std::numeric_limits<long double>::infinity();
  if (opset_ < 11) {
    lo = float_attribute(node, "min", -std::numeric_limits<double>::infinity());
    hi = float_attribute(node, "max", std::numeric_limits<double>::infinity());
  } else {
    if (node.input_size() >= 2 && !node.input(1).empty()) lo = scalar(node, node.input(1));
    if (node.input_size() >= 3 && !node.input(2).empty()) hi = scalar(node, node.input(2));
  }
  if (lo != 0)
    fail(node,
         "only Clip with min = 0 (a clipped ReLU) is supported, got min = " + std::to_string(static_cast<double>(lo)));
  if (!(hi > 0)) fail(node, "Clip max must be positive");
  return hi;
}

void OnnxChainReader::require_data_input(const onnx::NodeProto& node, int index) const {
  if (node.input_size() <= index || !is_data(node.input(index)))
    fail(node, "input " + std::to_string(index) + " must be the network's running value");
}

void OnnxChainReader::advance(const onnx::NodeProto& node) {
  if (node.output_size() < 1) fail(node, "has no output");
  stale_.insert(running_);
  running_ = node.output(0);
}

const onnx::AttributeProto* OnnxChainReader::attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t OnnxChainReader::int_attribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  const auto* a = attribute(node, name);
  return a ? a->i() : fallback;
}

double OnnxChainReader::float_attribute(const onnx::NodeProto& node, const std::string& name, double fallback) {
  const auto* a = attribute(node, name);
  return a ? a->f() : fallback;
}

std::vector<int64_t> OnnxChainReader::ints_attribute(const onnx::NodeProto& node, const std::string& name) {
  const auto* a = attribute(node, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : std::vector<int64_t>{};
}

} // namespace fxnn::floatnet
