#pragma once
// Small fixed-point networks that exercise every mapping of docs/onnx.md: 8-bit codes (rescale,
// convolution with a clip, max-pool, flatten, dense), 12- and 16-bit codes (two convolution branches, an
// add of different formats, an average pool, wide double logits), both roundings and their ties, and a
// dense layer whose accumulator no float32 holds. Weights are drawn from a fixed seed.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::onnx_testing {

inline std::vector<int64_t> draw(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int64_t> pick(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = pick(gen);
  return v;
}

inline ir::Requantize requantize(std::vector<int64_t> multiplier, int multiplier_frac, std::vector<int64_t> offset,
                                 int shift, Rounding rounding, int64_t clamp_min, int64_t clamp_max) {
  return ir::Requantize{
      std::move(multiplier), multiplier_frac, std::move(offset), shift, rounding, clamp_min, clamp_max};
}

inline ir::Requantize full_range(std::vector<int64_t> multiplier, int multiplier_frac, std::vector<int64_t> offset,
                                 int shift, Rounding rounding, const Format& out) {
  return requantize(std::move(multiplier), multiplier_frac, std::move(offset), shift, rounding, out.code_min(),
                    out.code_max());
}

inline ir::Node node(const std::string& name, ir::OpKind op, std::vector<std::string> inputs, const Format& out,
                     std::vector<int64_t> shape) {
  ir::Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  n.output_format = out;
  n.output_shape = std::move(shape);
  return n;
}

/// u8.0 pixels -> per-channel rescale (nearest, ties) -> 3x3 convolution to u8.4 with a clip at 200
/// (negative multiplier on one channel) -> 2x2 max-pool -> flatten -> dense that only drops bits (floor).
inline ir::Network cnn_8bit() {
  ir::Network net;
  net.name = "cnn8";
  net.input_shape = {2, 7, 7};
  net.input_format = Format(8, 0, false);
  ir::Node scale = node("scale", ir::OpKind::kRescale, {"input"}, Format(12, 9, true), {2, 7, 7});
  scale.requantize = full_range({517, -389}, 15, {-40000, 12345}, 6, Rounding::kNearest, scale.output_format);
  ir::Node conv = node("conv1", ir::OpKind::kConv2d, {"scale"}, Format(8, 4, false), {4, 7, 7});
  conv.weight = ir::IntTensor{{4, 2, 3, 3}, draw(72, -128, 127, 1), Format(8, 7, true)};
  conv.kernel = 3;
  conv.padding = 1;
  conv.requantize = requantize({4000, -2500, 7000, 1200}, 15, draw(4, -(int64_t{1} << 28), int64_t{1} << 28, 2), 27,
                               Rounding::kNearest, 0, 200);
  ir::Node pool = node("pool1", ir::OpKind::kMaxPool, {"conv1"}, Format(8, 4, false), {4, 3, 3});
  pool.kernel = 2;
  pool.stride = 2;
  ir::Node flat = node("flat", ir::OpKind::kFlatten, {"pool1"}, Format(8, 4, false), {36});
  ir::Node fc = node("fc", ir::OpKind::kDense, {"flat"}, Format(20, 8, true), {5});
  fc.weight = ir::IntTensor{{5, 36}, draw(180, -128, 127, 3), Format(8, 6, true)};
  fc.requantize = full_range({1}, 0, {0}, 2, Rounding::kFloor, fc.output_format);
  net.nodes = {scale, conv, pool, flat, fc};
  net.output = "fc";
  return net;
}

/// s16.10 input -> two convolution branches (3x3 to s12.4 dropping bits with nearest; 1x1 to s16.9 with
/// per-channel multipliers, floor) -> add of the two formats with a ReLU to u8.3 -> 2x2 average pool
/// (nearest) -> flatten -> dense to s40.30 logits of shift 0 (double codes).
inline ir::Network residual_16bit() {
  ir::Network net;
  net.name = "res16";
  net.input_shape = {3, 6, 6};
  net.input_format = Format(16, 10, true);
  ir::Node a = node("branch_a", ir::OpKind::kConv2d, {"input"}, Format(12, 4, true), {3, 6, 6});
  a.weight = ir::IntTensor{{3, 3, 3, 3}, draw(81, -2, 2, 4), Format(4, 2, true)};
  a.kernel = 3;
  a.padding = 1;
  a.requantize = full_range({1}, 0, {0}, 8, Rounding::kNearest, a.output_format);
  ir::Node b = node("branch_b", ir::OpKind::kConv2d, {"input"}, Format(16, 9, true), {3, 6, 6});
  b.weight = ir::IntTensor{{3, 3, 1, 1}, draw(9, -128, 127, 5), Format(8, 7, true)};
  b.requantize = full_range({2900, -1700, 800}, 12, {-123456, 0, 98765}, 20, Rounding::kFloor, b.output_format);
  ir::Node sum = node("sum", ir::OpKind::kAdd, {"branch_a", "branch_b"}, Format(8, 3, false), {3, 6, 6});
  sum.requantize = full_range({1}, 0, {0}, 6, Rounding::kNearest, sum.output_format);
  ir::Node avg = node("avg", ir::OpKind::kAvgPool, {"sum"}, Format(8, 3, false), {3, 3, 3});
  avg.kernel = 2;
  avg.stride = 2;
  avg.requantize = full_range({1}, 2, {0}, 2, Rounding::kNearest, avg.output_format);
  ir::Node flat = node("flat", ir::OpKind::kFlatten, {"avg"}, Format(8, 3, false), {27});
  ir::Node fc = node("logits", ir::OpKind::kDense, {"flat"}, Format(40, 30, true), {4});
  fc.weight = ir::IntTensor{{4, 27}, draw(108, -1500, 1500, 6), Format(16, 12, true)};
  fc.requantize = full_range(draw(4, -20000, 20000, 7), 15, draw(4, -(int64_t{1} << 30), int64_t{1} << 30, 8), 0,
                             Rounding::kNearest, fc.output_format);
  net.nodes = {a, b, sum, avg, flat, fc};
  net.output = "logits";
  return net;
}

/// s8.0 codes divided by 4 with nearest (one tie in four: -6 -> -1, -2 -> 0, 2 -> 1, 6 -> 2), then
/// by 2 with floor, as a vector.
inline ir::Network ties() {
  ir::Network net;
  net.name = "ties";
  net.input_shape = {16};
  net.input_format = Format(8, 0, true);
  ir::Node quarter = node("quarter", ir::OpKind::kRescale, {"input"}, Format(8, 0, true), {16});
  quarter.requantize = full_range({1}, 0, {0}, 2, Rounding::kNearest, quarter.output_format);
  ir::Node half = node("half", ir::OpKind::kRescale, {"quarter"}, Format(6, 0, true), {16});
  half.requantize = full_range({1}, 0, {0}, 1, Rounding::kFloor, half.output_format);
  net.nodes = {quarter, half};
  net.output = "half";
  return net;
}

/// A dense layer of 16-bit weights on 16-bit codes: its worst-case accumulator (2^36) is beyond 2^24.
inline ir::Network wide_accumulator() {
  ir::Network net;
  net.name = "wide";
  net.input_shape = {64};
  net.input_format = Format(16, 8, true);
  ir::Node fc = node("fc_wide", ir::OpKind::kDense, {"input"}, Format(32, 8, true), {2});
  fc.weight = ir::IntTensor{{2, 64}, std::vector<int64_t>(128, -32768), Format(16, 15, true)};
  fc.accumulator_bits = 64;
  fc.requantize = full_range({1}, 0, {0}, 15, Rounding::kNearest, fc.output_format);
  net.nodes = {fc};
  net.output = "fc_wide";
  return net;
}

/// The networks whose every node is exact in both flavors, by name.
inline std::vector<ir::Network> exact_networks() { return {cnn_8bit(), residual_16bit(), ties()}; }

} // namespace fxnn::onnx_testing
