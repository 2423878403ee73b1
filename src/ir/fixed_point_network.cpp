#include "fxnn/ir/fixed_point_network.h"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "fxnn/ir/worst_case.h"

namespace fxnn::ir {

namespace {

[[noreturn]] void fail(const Node& node, const std::string& problem) {
  throw std::runtime_error("node '" + node.name + "' (" + to_string(node.op) + "): " + problem);
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

/// True when the product of the dimensions is at most kMaxTensorElements; the bound is checked before
/// each multiplication, so that it cannot overflow. (Callers check first that the dimensions are positive.)
bool within_element_limit(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d <= 0 || n > kMaxTensorElements / d) return false;
    n *= d;
  }
  return true;
}

std::string element_limit_str() { return std::to_string(kMaxTensorElements) + " (2^31)"; }

bool needs_requantize(OpKind op) {
  return op == OpKind::kRescale || op == OpKind::kConv2d || op == OpKind::kDense || op == OpKind::kAvgPool ||
         op == OpKind::kAdd;
}

bool has_window(OpKind op) { return op == OpKind::kConv2d || op == OpKind::kMaxPool || op == OpKind::kAvgPool; }

/// Node and file names become file names (<node>.weight.npy) and C identifiers (model.h); a name
/// of 200 bytes leaves room for ".multiplier.npy" within the 255 bytes of a file name.
constexpr size_t kMaxNameLength = 200;

bool is_safe_name(const std::string& name) {
  if (name.empty() || name[0] == '.' || name.size() > kMaxNameLength) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  });
}

void check_format(const Node& node, const Format& f, const std::string& what) {
  if (f.auto_range) fail(node, what + " format " + f.str() + " must be fixed, not auto");
}

/// Output size of a window of `kernel` with `stride` and `padding` over `size` elements.
int64_t window_output(const Node& node, int64_t size, int64_t padding) {
  if (size + 2 * padding < node.kernel)
    fail(node, "kernel " + std::to_string(node.kernel) + " larger than the padded input " +
                   std::to_string(size + 2 * padding));
  return (size + 2 * padding - node.kernel) / node.stride + 1;
}

void check_requantize(const Node& node, const WorstCase& worst, int64_t channels) {
  const Requantize& r = *node.requantize;
  const auto sizes_ok = [&](const std::vector<int64_t>& v) {
    return v.size() == 1 || static_cast<int64_t>(v.size()) == channels;
  };
  if (!sizes_ok(r.multiplier))
    fail(node, "requantize.multiplier has " + std::to_string(r.multiplier.size()) + " entries; expected 1 or " +
                   std::to_string(channels) + " (the channels)");
  if (!sizes_ok(r.offset))
    fail(node, "requantize.offset has " + std::to_string(r.offset.size()) + " entries; expected 1 or " +
                   std::to_string(channels) + " (the channels)");
  if (r.rounding != Rounding::kNearest && r.rounding != Rounding::kFloor)
    fail(node, "requantize.rounding must be nearest or floor, got " + to_string(r.rounding));
  if (r.shift < -kMaxShift || r.shift > kMaxShift)
    fail(node, "requantize.shift " + std::to_string(r.shift) + " outside [-" + std::to_string(kMaxShift) + ", " +
                   std::to_string(kMaxShift) + "]");
  const Format& out = node.output_format;
  if (r.clamp_min > r.clamp_max)
    fail(node, "requantize.clamp [" + std::to_string(r.clamp_min) + ", " + std::to_string(r.clamp_max) + "] is empty");
  if (r.clamp_min < out.code_min() || r.clamp_max > out.code_max())
    fail(node, "requantize.clamp [" + std::to_string(r.clamp_min) + ", " + std::to_string(r.clamp_max) +
                   "] exceeds the codes [" + std::to_string(out.code_min()) + ", " + std::to_string(out.code_max()) +
                   "] of the output format " + out.str());
  // eq. (3) in int64: acc * multiplier + offset, the rounding constant and a left shift must not overflow.
  for (int64_t c = 0; c < channels; ++c) {
    const auto problem = requantize_overflow(r, c, worst.channel(c));
    if (!problem.empty()) fail(node, problem + " (channel " + std::to_string(c) + ")");
  }
}

} // namespace

int64_t IntTensor::numel() const { return product(shape); }

std::string to_string(OpKind op) {
  switch (op) {
    case OpKind::kRescale: return "rescale";
    case OpKind::kConv2d: return "conv2d";
    case OpKind::kDense: return "dense";
    case OpKind::kMaxPool: return "maxpool";
    case OpKind::kAvgPool: return "avgpool";
    case OpKind::kAdd: return "add";
    case OpKind::kFlatten: return "flatten";
  }
  return "?";
}

OpKind parse_op_kind(const std::string& text) {
  for (OpKind op : {OpKind::kRescale, OpKind::kConv2d, OpKind::kDense, OpKind::kMaxPool, OpKind::kAvgPool, OpKind::kAdd,
                    OpKind::kFlatten})
    if (to_string(op) == text) return op;
  throw std::invalid_argument("unknown op '" + text +
                              "' (expected rescale, conv2d, dense, maxpool, avgpool, add or flatten)");
}

const Node& Network::node(const std::string& name) const {
  for (const auto& n : nodes)
    if (n.name == name) return n;
  throw std::runtime_error("network '" + this->name + "': no node named '" + name + "'");
}

Format Network::format_of(const std::string& tensor) const {
  return tensor == input_name ? input_format : node(tensor).output_format;
}

std::vector<int64_t> Network::shape_of(const std::string& tensor) const {
  return tensor == input_name ? input_shape : node(tensor).output_shape;
}

void Network::validate() const {
  if (version != kFormatVersion)
    throw std::runtime_error("network '" + name + "': version " + std::to_string(version) + ", this fxnn reads " +
                             std::to_string(kFormatVersion));
  if (!is_safe_name(input_name))
    throw std::runtime_error("network input name '" + input_name + "': use letters, digits, '_', '.', '-'");
  if (input_shape.empty() || std::any_of(input_shape.begin(), input_shape.end(), [](int64_t d) { return d <= 0; }))
    throw std::runtime_error("network input shape " + shape_str(input_shape) + " must be non-empty and positive");
  if (!within_element_limit(input_shape))
    throw std::runtime_error("network input shape " + shape_str(input_shape) + " has more elements than " +
                             element_limit_str());
  if (input_format.auto_range)
    throw std::runtime_error("network input format " + input_format.str() + " must be fixed");
  std::set<std::string> defined{input_name};
  for (const Node& node : nodes) {
    if (!is_safe_name(node.name))
      fail(node, "bad name: use letters, digits, '_', '.', '-' (not first), it becomes a file name");
    if (defined.count(node.name)) fail(node, "the name is used twice");
    const size_t arity = node.op == OpKind::kAdd ? 2 : 1;
    if (node.inputs.size() != arity)
      fail(node, "has " + std::to_string(node.inputs.size()) + " inputs; expected " + std::to_string(arity));
    for (const auto& in : node.inputs)
      if (!defined.count(in)) fail(node, "input '" + in + "' is not the network input or an earlier node");
    check_format(node, node.output_format, "output");
    if (node.output_shape.empty() ||
        std::any_of(node.output_shape.begin(), node.output_shape.end(), [](int64_t d) { return d <= 0; }))
      fail(node, "output_shape " + shape_str(node.output_shape) + " must be non-empty and positive");
    if (!within_element_limit(node.output_shape))
      fail(node, "output_shape " + shape_str(node.output_shape) + " has more elements than " + element_limit_str());

    const bool weighted = node.op == OpKind::kConv2d || node.op == OpKind::kDense;
    if (weighted != node.weight.has_value()) fail(node, weighted ? "needs a weight" : "must not have a weight");
    if (needs_requantize(node.op) != node.requantize.has_value())
      fail(node, needs_requantize(node.op) ? "needs a requantize" : "must not have a requantize");
    if (needs_requantize(node.op) && node.accumulator_bits != 32 && node.accumulator_bits != 64)
      fail(node, "accumulator_bits must be 32 or 64, got " + std::to_string(node.accumulator_bits));
    if (has_window(node.op)) {
      if (node.kernel < 1 || node.stride < 1 || node.padding < 0)
        fail(node, "kernel " + std::to_string(node.kernel) + ", stride " + std::to_string(node.stride) + ", padding " +
                       std::to_string(node.padding) + ": need kernel >= 1, stride >= 1, padding >= 0");
      if (node.padding > kMaxTensorElements)
        fail(node, "padding " + std::to_string(node.padding) + " is larger than " + element_limit_str());
      if (node.op != OpKind::kConv2d && node.padding != 0)
        fail(node, "padding " + std::to_string(node.padding) + ": pooling windows have no padding");
    }

    const Format in_format = format_of(node.inputs[0]);
    const auto in_shape = shape_of(node.inputs[0]);
    std::vector<int64_t> expected;
    switch (node.op) {
      case OpKind::kRescale: expected = in_shape; break;
      case OpKind::kFlatten: expected = {product(in_shape)}; break;
      case OpKind::kDense:
        if (in_shape.size() != 1) fail(node, "input shape " + shape_str(in_shape) + " must be 1-D (flatten first)");
        expected = {node.weight->shape.size() == 2 ? node.weight->shape[0] : -1};
        if (node.weight->shape != std::vector<int64_t>{expected[0], in_shape[0]})
          fail(node, "weight shape " + shape_str(node.weight->shape) + " does not match [out, " +
                         std::to_string(in_shape[0]) + "] for the input " + shape_str(in_shape));
        break;
      case OpKind::kConv2d:
      case OpKind::kMaxPool:
      case OpKind::kAvgPool: {
        if (in_shape.size() != 3) fail(node, "input shape " + shape_str(in_shape) + " must be [C, H, W]");
        int64_t channels = in_shape[0];
        if (node.op == OpKind::kConv2d) {
          const auto& ws = node.weight->shape;
          if (ws.size() != 4 || ws[1] != in_shape[0] || ws[2] != node.kernel || ws[3] != node.kernel)
            fail(node, "weight shape " + shape_str(ws) + " does not match [out, " + std::to_string(in_shape[0]) + ", " +
                           std::to_string(node.kernel) + ", " + std::to_string(node.kernel) +
                           "] (input channels, kernel)");
          channels = ws[0];
        }
        expected = {channels, window_output(node, in_shape[1], node.padding),
                    window_output(node, in_shape[2], node.padding)};
        break;
      }
      case OpKind::kAdd: {
        const auto b_shape = shape_of(node.inputs[1]);
        if (b_shape != in_shape)
          fail(node, "inputs have different shapes " + shape_str(in_shape) + " and " + shape_str(b_shape));
        expected = in_shape;
        break;
      }
    }
    if (node.output_shape != expected)
      fail(node, "output_shape " + shape_str(node.output_shape) + ", but the input gives " + shape_str(expected));
    if ((node.op == OpKind::kMaxPool || node.op == OpKind::kFlatten) && node.output_format != in_format)
      fail(node, "output_format " + node.output_format.str() + " must equal the input format " + in_format.str() +
                     " (codes are unchanged)");

    if (weighted) {
      const IntTensor& w = *node.weight;
      check_format(node, w.format, "weight");
      if (!within_element_limit(w.shape))
        fail(node, "weight shape " + shape_str(w.shape) + " has more elements than " + element_limit_str());
      if (static_cast<int64_t>(w.data.size()) != w.numel())
        fail(node, "weight has " + std::to_string(w.data.size()) + " values for the shape " + shape_str(w.shape));
      for (size_t i = 0; i < w.data.size(); ++i)
        if (w.data[i] < w.format.code_min() || w.data[i] > w.format.code_max())
          fail(node, "weight value " + std::to_string(w.data[i]) + " at index " + std::to_string(i) +
                         " is outside the format " + w.format.str());
    }
    if (node.requantize) {
      std::vector<Format> inputs;
      for (const auto& in : node.inputs) inputs.push_back(format_of(in));
      const WorstCase worst = worst_case_accumulator(node, inputs);
      const int64_t channels = node.output_shape[0];
      if (!worst.fits(node.accumulator_bits))
        fail(node, "accumulator_bits " + std::to_string(node.accumulator_bits) +
                       " too small: the worst case |acc| is " + worst.max_str() +
                       (node.accumulator_bits == 32 ? " (use 64)" : ""));
      check_requantize(node, worst, channels);
    }
    defined.insert(node.name);
  }
  if (std::none_of(nodes.begin(), nodes.end(), [&](const Node& n) { return n.name == output; }))
    throw std::runtime_error("network '" + name + "': output '" + output + "' is not a node");
}

} // namespace fxnn::ir
