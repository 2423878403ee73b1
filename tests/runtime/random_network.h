#pragma once
// Random fixed-point networks for the runtime and file tests: every op of the IR, with formats
// chosen to exercise each kernel family (u8 x s8, s16 x s16, 64-bit accumulators), odd sizes and
// codes at the ends of their ranges.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/runtime/codes.h"

namespace fxnn::runtime_testing {

/// Operand widths of one network: activations (after the first layer), weights, accumulator.
struct Widths {
  Format activation;
  Format weight;
  int accumulator_bits;
};

inline Widths narrow() { return {Format(8, 5, false), Format(8, 7, true), 32}; }  // u8 x s8
inline Widths medium() { return {Format(12, 8, true), Format(10, 9, true), 32}; } // s16 x s16
inline Widths wide() { return {Format(16, 10, true), Format(20, 18, true), 64}; } // 64-bit accumulators

class NetworkBuilder {
 public:
  NetworkBuilder(uint64_t seed, std::vector<int64_t> input_shape, Format input_format) : rng_(seed) {
    net_.name = "random";
    net_.source = "test";
    net_.input_shape = std::move(input_shape);
    net_.input_format = input_format;
    current_ = net_.input_name;
  }

  NetworkBuilder& rescale(const Format& out) {
    ir::Node n = base("rescale", ir::OpKind::kRescale, out, net_.shape_of(current_));
    finish(n, {net_.format_of(current_)}, false);
    return *this;
  }
  NetworkBuilder& conv(int64_t channels, int64_t kernel, int64_t stride, int64_t padding, const Widths& w, bool relu) {
    const auto in = net_.shape_of(current_);
    const int64_t oh = (in[1] + 2 * padding - kernel) / stride + 1, ow = (in[2] + 2 * padding - kernel) / stride + 1;
    ir::Node n = base("conv", ir::OpKind::kConv2d, relu ? unsigned_of(w.activation) : w.activation, {channels, oh, ow});
    n.kernel = kernel;
    n.stride = stride;
    n.padding = padding;
    n.weight = random_tensor({channels, in[0], kernel, kernel}, w.weight);
    n.accumulator_bits = w.accumulator_bits;
    finish(n, {net_.format_of(current_)}, relu);
    return *this;
  }
  NetworkBuilder& dense(int64_t outputs, const Widths& w, bool relu) {
    const auto in = net_.shape_of(current_);
    ir::Node n = base("dense", ir::OpKind::kDense, relu ? unsigned_of(w.activation) : w.activation, {outputs});
    n.weight = random_tensor({outputs, in[0]}, w.weight);
    n.accumulator_bits = w.accumulator_bits;
    finish(n, {net_.format_of(current_)}, relu);
    return *this;
  }
  NetworkBuilder& pool(ir::OpKind op, int64_t kernel, int64_t stride) {
    const auto in = net_.shape_of(current_);
    const Format f = net_.format_of(current_);
    ir::Node n = base(op == ir::OpKind::kMaxPool ? "maxpool" : "avgpool", op, f,
                      {in[0], (in[1] - kernel) / stride + 1, (in[2] - kernel) / stride + 1});
    n.kernel = kernel;
    n.stride = stride;
    if (op == ir::OpKind::kAvgPool)
      finish(n, {f}, false);
    else
      push(n);
    return *this;
  }
  /// A residual addition of the current tensor and the output of node `other` (same shape).
  NetworkBuilder& add(const std::string& other, const Format& out, bool relu) {
    ir::Node n = base("add", ir::OpKind::kAdd, out, net_.shape_of(current_));
    n.inputs = {current_, other};
    finish(n, {net_.format_of(current_), net_.format_of(other)}, relu);
    return *this;
  }
  NetworkBuilder& flatten() {
    const auto in = net_.shape_of(current_);
    int64_t size = 1;
    for (int64_t d : in) size *= d;
    push(base("flatten", ir::OpKind::kFlatten, net_.format_of(current_), {size}));
    return *this;
  }
  const std::string& current() const { return current_; }
  ir::Network build() {
    net_.output = current_;
    net_.validate();
    return net_;
  }

  /// Random input codes for `batch` samples, a tenth of them at the ends of the range.
  runtime::Codes input(int64_t batch) { return random_codes(net_.input_format, batch, net_.input_shape); }
  runtime::Codes random_codes(const Format& f, int64_t batch, const std::vector<int64_t>& sample) {
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), sample.begin(), sample.end());
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    std::vector<int64_t> v(static_cast<size_t>(numel));
    for (auto& x : v) x = code(f);
    return runtime::Codes::from_values(f, shape, v.data());
  }

 private:
  static Format unsigned_of(const Format& f) { return Format(f.bits, f.frac, false); }

  int64_t code(const Format& f) {
    std::uniform_int_distribution<int> pick(0, 9);
    const int which = pick(rng_);
    if (which == 0) return f.code_min();
    if (which == 1) return f.code_max();
    return std::uniform_int_distribution<int64_t>(f.code_min(), f.code_max())(rng_);
  }

  ir::IntTensor random_tensor(std::vector<int64_t> shape, const Format& f) {
    ir::IntTensor t;
    t.shape = std::move(shape);
    t.format = f;
    t.data.resize(static_cast<size_t>(t.numel()));
    for (auto& x : t.data) x = code(f);
    return t;
  }

  ir::Node base(const std::string& prefix, ir::OpKind op, const Format& out, std::vector<int64_t> shape) {
    ir::Node n;
    n.name = prefix + std::to_string(net_.nodes.size());
    n.op = op;
    n.inputs = {current_};
    n.output_format = out;
    n.output_shape = std::move(shape);
    return n;
  }

  /// A per-channel requantization whose shift maps the typical accumulator onto the output range,
  /// so that outputs both fill the range and saturate at both ends; half the nodes round to
  /// nearest, half truncate.
  void finish(ir::Node& n, const std::vector<Format>& inputs, bool relu) {
    ir::Requantize r;
    const int64_t channels = n.output_shape[0];
    // Every other node has multiplier 1 (a layer without batch norm): small shifts, where an
    // off-by-one rounding constant shows.
    const bool unit = net_.nodes.size() % 2 == 1;
    std::uniform_int_distribution<int64_t> m(1 << 12, 1 << 14);
    r.multiplier_frac = unit ? 0 : 14;
    for (int64_t c = 0; c < channels; ++c) r.multiplier.push_back(unit ? 1 : m(rng_) * (c % 5 == 4 ? -1 : 1));
    n.requantize = r; // for the worst case
    const ir::WorstCase worst = ir::worst_case_accumulator(n, inputs);
    const double typical = std::max(1.0, static_cast<double>(worst.max()) / 8.0) * (unit ? 1 : 1 << 13);
    const int out_bits = n.output_format.bits - (n.output_format.is_signed ? 1 : 0);
    r.shift = std::max(-4, static_cast<int>(std::ceil(std::log2(typical))) - out_bits);
    std::uniform_int_distribution<int64_t> o(-(int64_t{1} << std::max(0, r.shift + out_bits - 3)),
                                             int64_t{1} << std::max(0, r.shift + out_bits - 3));
    for (int64_t c = 0; c < channels; ++c) r.offset.push_back(o(rng_));
    r.rounding = n.name.size() % 2 ? Rounding::kNearest : Rounding::kFloor;
    r.clamp_min = relu ? 0 : n.output_format.code_min();
    r.clamp_max = n.output_format.code_max();
    n.requantize = r;
    push(n);
  }

  void push(const ir::Node& n) {
    net_.nodes.push_back(n);
    current_ = n.name;
  }

  std::mt19937_64 rng_;
  ir::Network net_;
  std::string current_;
};

} // namespace fxnn::runtime_testing
