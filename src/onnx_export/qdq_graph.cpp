// The qdq flavor (docs/onnx.md, section 3): every tensor holds codes as integer-valued floats, float32
// when the format's codes fit 2^24 and double otherwise; weights are integer initializers made float
// by DequantizeLinear (scale 1) or Cast; Conv and Gemm sum in float32, eq. (3) is evaluated in double.

#include <algorithm>
#include <cmath>
#include <map>

#include "exact_bounds.h"
#include "flavor_graphs.h"
#include "fxnn/ir/worst_case.h"
#include "graph_builder.h"

namespace fxnn::onnx_export {

namespace {

constexpr ElementType kFloat = onnx::TensorProto_DataType_FLOAT;
constexpr ElementType kDouble = onnx::TensorProto_DataType_DOUBLE;

/// A graph tensor holding the codes of an IR tensor.
struct CodeTensor {
  std::string name;
  ElementType type = kFloat;
};

/// float32 when it holds every code of the format (eq. (1) of docs/onnx.md), double otherwise.
ElementType code_type(const Format& f) { return ir::max_abs_code(f) <= kFloat32Integers ? kFloat : kDouble; }

/// Formats whose codes QuantizeLinear can store (int8 or uint8 in opset 17).
bool has_8bit_type(const Format& f) { return f.bits <= 8; }

std::vector<int64_t> pair(int64_t v) { return {v, v}; }

class QdqGraph {
 public:
  QdqGraph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact)
      : net_(network), g_(graph), inexact_(inexact) {}

  void build() {
    const Format& in = net_.input_format;
    const ElementType type = code_type(in);
    g_.input(net_.input_name, type, net_.input_shape);
    if (ir::max_abs_code(in) > kFloat64Integers)
      flag(net_.input_name, "input codes of " + in.str() + " exceed 2^53, the largest integers a double holds");
    CodeTensor input{net_.input_name, type};
    if (has_8bit_type(in)) input = through_integer_type(input, in, net_.input_name + "/codes");
    tensors_[net_.input_name] = input;
    for (const ir::Node& node : net_.nodes) tensors_[node.name] = map(node);
    const CodeTensor& out = tensors_.at(net_.output);
    g_.output(out.name, out.type, net_.node(net_.output).output_shape);
  }

 private:
  void flag(const std::string& node, const std::string& reason) { inexact_.push_back({node, reason}); }

  std::vector<Format> input_formats(const ir::Node& node) const {
    std::vector<Format> formats;
    for (const auto& in : node.inputs) formats.push_back(net_.format_of(in));
    return formats;
  }

  /// QuantizeLinear then DequantizeLinear with scale 1 and zero point 0: the identity on the integral,
  /// in-range codes it receives, which states the integer type of the tensor (int8 or uint8).
  CodeTensor through_integer_type(const CodeTensor& t, const Format& f, const std::string& out) {
    const ElementType type = integer_type(f.code_min(), f.code_max());
    const std::string one = g_.scalar(1.0, kFloat), zero = g_.scalar(0.0, type);
    const std::string q = g_.node("QuantizeLinear", {t.name, one, zero}, out + "/q");
    return {g_.node("DequantizeLinear", {q, one, zero}, out), kFloat};
  }

  CodeTensor cast(const CodeTensor& t, ElementType type, const std::string& out) {
    if (t.type == type) return t;
    return {g_.node("Cast", {t.name}, out, {{"to", int64_t{type}}}), type};
  }

  /// The weight codes as float32: an integer initializer of the narrowest type, then DequantizeLinear
  /// (int8, uint8, int32) or Cast (int16, int64: DequantizeLinear takes them only from opset 21).
  std::string weight(const ir::Node& node) {
    const ir::IntTensor& w = *node.weight;
    const ElementType type = integer_type(w.format.code_min(), w.format.code_max());
    const std::string codes = g_.integers(node.name + "/weight", w.shape, w.data, type);
    if (type == onnx::TensorProto_DataType_INT16 || type == onnx::TensorProto_DataType_INT64)
      return g_.node("Cast", {codes}, node.name + "/weight_float", {{"to", int64_t{kFloat}}});
    return g_.node("DequantizeLinear", {codes, g_.scalar(1.0, kFloat), g_.scalar(0.0, type)},
                   node.name + "/weight_float");
  }

  /// The last tensor of a node: named like the node, through its integer type when it has one.
  template <typename Produce>
  CodeTensor finish(const ir::Node& node, ElementType type, Produce produce) {
    if (!has_8bit_type(node.output_format)) return {produce(node.name), type};
    return through_integer_type({produce(node.name + "/codes"), type}, node.output_format, node.name);
  }

  void check_float32_sum(const ir::Node& node, const ir::WorstCase& worst, const std::string& op) {
    if (worst.max() > kFloat32Integers)
      flag(node.name, "the worst-case |acc| " + worst.max_str() + " exceeds 2^24, beyond which a float32 " + op +
                          " may round its partial sums");
  }

  CodeTensor map(const ir::Node& node) {
    const CodeTensor x = tensors_.at(node.inputs[0]);
    const auto k = pair(node.kernel), s = pair(node.stride);
    std::optional<ir::WorstCase> worst;
    if (node.requantize) worst = ir::worst_case_accumulator(node, input_formats(node));
    switch (node.op) {
      case ir::OpKind::kMaxPool:
        return finish(node, x.type, [&](const std::string& out) {
          return g_.node("MaxPool", {x.name}, out, {{"kernel_shape", k}, {"strides", s}});
        });
      case ir::OpKind::kFlatten:
        return finish(node, x.type, [&](const std::string& out) {
          return g_.node("Flatten", {x.name}, out, {{"axis", int64_t{1}}});
        });
      case ir::OpKind::kRescale: return requantize(node, *worst, cast(x, kDouble, node.name + "/acc"));
      case ir::OpKind::kConv2d: {
        check_float32_sum(node, *worst, "Conv");
        const CodeTensor xf = cast(x, kFloat, node.name + "/input_float");
        const int64_t p = node.padding;
        const std::string acc =
            g_.node("Conv", {xf.name, weight(node)}, node.name + "/acc",
                    {{"kernel_shape", k}, {"strides", s}, {"pads", std::vector<int64_t>{p, p, p, p}}});
        return requantize(node, *worst, cast({acc, kFloat}, kDouble, node.name + "/acc_double"));
      }
      case ir::OpKind::kDense: {
        check_float32_sum(node, *worst, "Gemm");
        const CodeTensor xf = cast(x, kFloat, node.name + "/input_float");
        const std::string acc = g_.node("Gemm", {xf.name, weight(node)}, node.name + "/acc", {{"transB", int64_t{1}}});
        return requantize(node, *worst, cast({acc, kFloat}, kDouble, node.name + "/acc_double"));
      }
      case ir::OpKind::kAvgPool: {
        // The window sum of eq. (3)'s acc is a depthwise convolution with weights 1 (AveragePool would
        // divide by kernel^2 and round).
        check_float32_sum(node, *worst, "Conv");
        const int64_t channels = node.output_shape[0];
        const std::string ones =
            g_.reals(node.name + "/window_ones", {channels, 1, node.kernel, node.kernel},
                     std::vector<double>(static_cast<size_t>(channels * node.kernel * node.kernel), 1.0), kFloat);
        const CodeTensor xf = cast(x, kFloat, node.name + "/input_float");
        const std::string acc = g_.node("Conv", {xf.name, ones}, node.name + "/acc",
                                        {{"kernel_shape", k}, {"strides", s}, {"group", channels}});
        return requantize(node, *worst, cast({acc, kFloat}, kDouble, node.name + "/acc_double"));
      }
      case ir::OpKind::kAdd: {
        if (worst->max() > kFloat64Integers)
          flag(node.name, "the worst-case |a + b| " + worst->max_str() + " exceeds 2^53, beyond which a double rounds");
        const Format fa = net_.format_of(node.inputs[0]), fb = net_.format_of(node.inputs[1]);
        const int frac = std::max(fa.frac, fb.frac);
        const auto aligned = [&](const CodeTensor& t, const Format& f, const std::string& role) {
          const CodeTensor d = cast(t, kDouble, node.name + "/" + role + "_double");
          if (frac == f.frac) return d.name;
          return g_.node("Mul", {d.name, g_.scalar(std::ldexp(1.0, frac - f.frac), kDouble)}, node.name + "/" + role);
        };
        const std::string a = aligned(x, fa, "a"), b = aligned(tensors_.at(node.inputs[1]), fb, "b");
        return requantize(node, *worst, {g_.node("Add", {a, b}, node.name + "/acc"), kDouble});
      }
    }
    throw std::logic_error("qdq export: unknown op of node " + node.name);
  }

  /// Eq. (3) in double: acc * (multiplier 2^-shift) + (offset + rounding constant) 2^-shift, Floor, Clip,
  /// then the codes' type. Every step is exact while requantize_magnitude <= 2^53 (eq. (2) of docs/onnx.md).
  CodeTensor requantize(const ir::Node& node, const ir::WorstCase& worst, const CodeTensor& acc) {
    const ir::Requantize& r = *node.requantize;
    const int64_t channels = node.output_shape[0];
    const uint64_t magnitude = requantize_magnitude(r, worst, channels);
    if (magnitude > kFloat64Integers)
      flag(node.name, "acc * multiplier + offset can reach " +
                          (magnitude == ~uint64_t{0} ? std::string(">= 2^64") : std::to_string(magnitude)) +
                          " (shifted), beyond 2^53 where a double stops holding every integer");
    const size_t rank = node.output_shape.size();
    const long double rounding = r.shift > 0 && r.rounding == Rounding::kNearest ? std::ldexp(1.0L, r.shift - 1) : 0;
    std::vector<double> multiplier, offset;
    for (int64_t m : r.multiplier)
      multiplier.push_back(static_cast<double>(std::ldexp(static_cast<long double>(m), -r.shift)));
    for (int64_t o : r.offset)
      offset.push_back(static_cast<double>(std::ldexp(static_cast<long double>(o) + rounding, -r.shift)));
    std::string t = acc.name;
    if (std::any_of(multiplier.begin(), multiplier.end(), [](double m) { return m != 1.0; }))
      t = g_.node("Mul",
                  {t, g_.reals(node.name + "/multiplier", channel_dims(multiplier.size(), rank), multiplier, kDouble)},
                  node.name + "/scaled");
    if (std::any_of(offset.begin(), offset.end(), [](double o) { return o != 0.0; }))
      t = g_.node("Add", {t, g_.reals(node.name + "/offset", channel_dims(offset.size(), rank), offset, kDouble)},
                  node.name + "/shifted");
    if (r.shift > 0) t = g_.node("Floor", {t}, node.name + "/rounded");
    // Bounds beyond 2^53 are never reached when the node is exact; saturating them keeps them doubles.
    const double limit = static_cast<double>(kFloat64Integers);
    const double lo = std::max(static_cast<double>(r.clamp_min), -limit),
                 hi = std::min(static_cast<double>(r.clamp_max), limit);
    const ElementType type = code_type(node.output_format);
    const std::string clip_name = type == kDouble ? node.name : node.name + "/clamped";
    const std::string clipped = g_.node("Clip", {t, g_.scalar(lo, kDouble), g_.scalar(hi, kDouble)}, clip_name);
    if (type == kDouble) return {clipped, kDouble};
    return finish(node, kFloat, [&](const std::string& out) {
      return g_.node("Cast", {clipped}, out, {{"to", int64_t{kFloat}}});
    });
  }

  const ir::Network& net_;
  GraphBuilder g_;
  std::vector<InexactNode>& inexact_;
  std::map<std::string, CodeTensor> tensors_;
};

} // namespace

void build_qdq_graph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact) {
  QdqGraph(network, graph, inexact).build();
}

} // namespace fxnn::onnx_export
