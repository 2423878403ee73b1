// The qonnx flavor (docs/onnx.md, section 4): tensors hold real values code * 2^-F in float32; a Quant
// node (scale 2^-F, zero point 0, bit width B) marks the network input, every weight and every
// requantized activation as the fixed-point type of its format, and the float operators between them
// compute the real values eq. (1)-(3) stand for.

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

/// A graph tensor of real values whose codes have `frac` fractional bits.
struct RealTensor {
  std::string name;
  int frac = 0;
};

std::vector<int64_t> pair(int64_t v) { return {v, v}; }

class QonnxGraph {
 public:
  QonnxGraph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact)
      : net_(network), g_(graph), inexact_(inexact) {}

  void build() {
    const Format& in = net_.input_format;
    g_.input(net_.input_name, kFloat, net_.input_shape);
    tensors_[net_.input_name] = {quant(net_.input_name, net_.input_name, in, "ROUND", net_.input_name + "/quant"),
                                 in.frac};
    for (const ir::Node& node : net_.nodes) tensors_[node.name] = {map(node), node.output_format.frac};
    g_.output(net_.output, kFloat, net_.node(net_.output).output_shape);
  }

 private:
  void flag(const std::string& node, const std::string& reason) { inexact_.push_back({node, reason}); }

  /// x * 2^exponent as a float32 constant, flagged when float32 cannot hold it.
  double constant(const std::string& node, int64_t x, int exponent, const std::string& what) {
    if (const auto f = exact_float32(x, exponent)) return *f;
    flag(node, what + " " + std::to_string(x) + " * 2^" + std::to_string(exponent) + " is no float32");
    return static_cast<double>(std::ldexp(static_cast<long double>(x), exponent));
  }

  std::string scalar(const std::string& node, int64_t x, int exponent, const std::string& what) {
    return g_.scalar(constant(node, x, exponent, what), kFloat);
  }

  /// Quant(x, 2^-F, 0, B) with the sign of `format`: the identity on the format's grid within its range.
  std::string quant(const std::string& node, const std::string& x, const Format& format, const std::string& rounding,
                    const std::string& out) {
    return g_.node(
        "Quant",
        {x, scalar(node, 1, -format.frac, "the scale"), g_.scalar(0.0, kFloat), g_.scalar(format.bits, kFloat)}, out,
        {{"signed", int64_t{format.is_signed}}, {"narrow", int64_t{0}}, {"rounding_mode", rounding}}, kQonnxDomain);
  }

  /// The weight as float32 real values, then its Quant node (exactly its codes: ROUND of a grid point).
  std::string weight(const ir::Node& node) {
    const ir::IntTensor& w = *node.weight;
    std::vector<double> values;
    for (int64_t code : w.data) values.push_back(constant(node.name, code, -w.format.frac, "the weight code"));
    const std::string real = g_.reals(node.name + "/weight", w.shape, values, kFloat);
    return quant(node.name, real, w.format, "ROUND", node.name + "/weight_quant");
  }

  std::string map(const ir::Node& node) {
    const RealTensor x = tensors_.at(node.inputs[0]);
    const auto k = pair(node.kernel), s = pair(node.stride);
    switch (node.op) {
      case ir::OpKind::kMaxPool: return g_.node("MaxPool", {x.name}, node.name, {{"kernel_shape", k}, {"strides", s}});
      case ir::OpKind::kFlatten: return g_.node("Flatten", {x.name}, node.name, {{"axis", int64_t{1}}});
      case ir::OpKind::kRescale: return requantize(node, x.name, x.frac, 1);
      case ir::OpKind::kConv2d: {
        const int64_t p = node.padding;
        const std::string acc =
            g_.node("Conv", {x.name, weight(node)}, node.name + "/acc",
                    {{"kernel_shape", k}, {"strides", s}, {"pads", std::vector<int64_t>{p, p, p, p}}});
        return requantize(node, acc, x.frac + node.weight->format.frac, 1);
      }
      case ir::OpKind::kDense: {
        const std::string acc = g_.node("Gemm", {x.name, weight(node)}, node.name + "/acc", {{"transB", int64_t{1}}});
        return requantize(node, acc, x.frac + node.weight->format.frac, 1);
      }
      case ir::OpKind::kAvgPool: {
        // The mean is the window sum / kernel^2; the kernel^2 goes into the multiplier.
        const std::string mean =
            g_.node("AveragePool", {x.name}, node.name + "/mean", {{"kernel_shape", k}, {"strides", s}});
        return requantize(node, mean, x.frac, node.kernel * node.kernel);
      }
      case ir::OpKind::kAdd: {
        const RealTensor b = tensors_.at(node.inputs[1]);
        const std::string sum = g_.node("Add", {x.name, b.name}, node.name + "/acc");
        return requantize(node, sum, std::max(x.frac, b.frac), 1);
      }
    }
    throw std::logic_error("qonnx export: unknown op of node " + node.name);
  }

  /// The clamp of eq. (3) where it is narrower than the output format (whose range Quant and Trunc
  /// saturate to anyway): Relu for clamp_min = 0 of a signed format, else Clip.
  std::string clamp(const ir::Node& node, const std::string& t) {
    const ir::Requantize& r = *node.requantize;
    const Format& f = node.output_format;
    if (r.clamp_min == f.code_min() && r.clamp_max == f.code_max()) return t;
    if (r.clamp_min == 0 && r.clamp_max == f.code_max()) return g_.node("Relu", {t}, node.name + "/clamped");
    return g_.node(
        "Clip",
        {t, scalar(node.name, r.clamp_min, -f.frac, "clamp_min"), scalar(node.name, r.clamp_max, -f.frac, "clamp_max")},
        node.name + "/clamped");
  }

  /// Eq. (3) on real values: acc has `acc_frac` fractional bits (its real value is acc 2^-acc_frac, or
  /// that divided by `window`, the kernel^2 of an average). Trunc where eq. (3) only drops fractional
  /// bits; otherwise Mul, Add, the clamp and Quant with FLOOR. Nearest adds half an output step first.
  std::string requantize(const ir::Node& node, const std::string& acc, int acc_frac, int64_t window) {
    const ir::Requantize& r = *node.requantize;
    const Format& f = node.output_format;
    const int64_t channels = node.output_shape[0];
    const ir::WorstCase worst = ir::worst_case_accumulator(node, input_formats(node));
    // The graph is exact in real arithmetic; a double evaluation of it (the numpy semantics of QONNX)
    // is exact under the bound of eq. (2) of docs/onnx.md.
    const uint64_t magnitude = requantize_magnitude(r, worst, channels);
    if (magnitude > kFloat64Integers)
      flag(node.name, "acc * multiplier + offset can reach " +
                          (magnitude == ~uint64_t{0} ? std::string(">= 2^64") : std::to_string(magnitude)) +
                          " (shifted), beyond 2^53 where a double evaluation rounds");
    const bool nearest = r.shift > 0 && r.rounding == Rounding::kNearest;
    const auto all = [](const std::vector<int64_t>& v, int64_t x) {
      return std::all_of(v.begin(), v.end(), [x](int64_t e) { return e == x; });
    };
    if (all(r.multiplier, 1) && all(r.offset, 0) && window == 1 && r.shift > 0 && r.shift == acc_frac - f.frac) {
      std::string t = acc;
      if (nearest)
        t = g_.node("Add", {t, scalar(node.name, 1, r.shift - 1 - acc_frac, "half a step")}, node.name + "/half_up");
      t = clamp(node, t);
      const int acc_bits = ir::signed_bits(-static_cast<__int128>(worst.max()) - 1, worst.max());
      return g_.node(
          "Trunc",
          {t, scalar(node.name, 1, -acc_frac, "the scale"), g_.scalar(0.0, kFloat), g_.scalar(acc_bits, kFloat),
           scalar(node.name, 1, -f.frac, "the scale"), g_.scalar(f.bits, kFloat)},
          node.name, {{"signed", int64_t{f.is_signed}}, {"narrow", int64_t{0}}, {"rounding_mode", "FLOOR"}},
          kQonnxDomain);
    }
    // t = acc 2^-acc_frac * multiplier 2^(acc_frac - shift - F) + (offset + rounding) 2^(-shift - F)
    //   = (acc multiplier + offset + rounding) 2^-shift 2^-F: the value before the floor, in output steps 2^-F.
    const size_t rank = node.output_shape.size();
    std::vector<double> multiplier;
    for (int64_t m : r.multiplier) {
      // window <= kMaxTensorElements: m * window overflows only for multipliers no float32 holds anyway.
      const bool fits = m >= -(INT64_MAX / window) && m <= INT64_MAX / window;
      if (!fits)
        flag(node.name, "the multiplier " + std::to_string(m) + " times " + std::to_string(window) + " overflows");
      multiplier.push_back(constant(node.name, fits ? m * window : 0, acc_frac - r.shift - f.frac, "the multiplier"));
    }
    std::string t = acc;
    if (std::any_of(multiplier.begin(), multiplier.end(), [](double m) { return m != 1.0; }))
      t = g_.node("Mul",
                  {t, g_.reals(node.name + "/multiplier", channel_dims(multiplier.size(), rank), multiplier, kFloat)},
                  node.name + "/scaled");
    // An offset of more than 24 significant bits is added as several float32 parts (exact in real
    // arithmetic, and in double while eq. (2) holds).
    const int64_t rounding = nearest ? int64_t{1} << (r.shift - 1) : 0;
    std::vector<std::vector<double>> parts; // parts[i][c]
    for (size_t c = 0; c < r.offset.size(); ++c) {
      const auto split = float32_parts(r.offset[c] + rounding, -r.shift - f.frac);
      if (split.empty() && r.offset[c] + rounding != 0)
        flag(node.name, "the offset " + std::to_string(r.offset[c]) + " is beyond float32's exponents");
      if (parts.size() < split.size()) parts.resize(split.size(), std::vector<double>(r.offset.size(), 0.0));
      for (size_t i = 0; i < split.size(); ++i) parts[i][c] = split[i];
    }
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string suffix = parts.size() == 1 ? "" : "_" + std::to_string(i);
      t = g_.node("Add",
                  {t, g_.reals(node.name + "/offset" + suffix, channel_dims(parts[i].size(), rank), parts[i], kFloat)},
                  node.name + "/shifted" + suffix);
    }
    return quant(node.name, clamp(node, t), f, "FLOOR", node.name);
  }

  std::vector<Format> input_formats(const ir::Node& node) const {
    std::vector<Format> formats;
    for (const auto& in : node.inputs) formats.push_back(net_.format_of(in));
    return formats;
  }

  const ir::Network& net_;
  GraphBuilder g_;
  std::vector<InexactNode>& inexact_;
  std::map<std::string, RealTensor> tensors_;
};

} // namespace

void build_qonnx_graph(const ir::Network& network, onnx::GraphProto& graph, std::vector<InexactNode>& inexact) {
  QonnxGraph(network, graph, inexact).build();
}

} // namespace fxnn::onnx_export
