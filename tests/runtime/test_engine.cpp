// The optimized kernels of the integer runtime equal the reference kernels bit for bit, for every
// op, kernel family and ISA, on odd sizes and codes at the ends of their ranges.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>

#include "fxnn/runtime/engine.h"
#include "fxnn/runtime/reference_kernels.h"
#include "random_network.h"

namespace {

using fxnn::Format;
using fxnn::Rounding;
using fxnn::ir::Network;
using fxnn::ir::OpKind;
using fxnn::runtime::Codes;
using fxnn::runtime::Engine;
using fxnn::runtime::EngineOptions;
using fxnn::runtime::Isa;
using fxnn::runtime::isa_supported;
using fxnn::runtime_testing::NetworkBuilder;
using fxnn::runtime_testing::Widths;

/// Every output code of the optimized engine equals the reference engine's.
void expect_same(const Network& net, const Codes& input, Isa isa, int threads) {
  Engine reference(net, EngineOptions().with_reference(true));
  Engine optimized(net, EngineOptions().with_isa(isa).with_threads(threads));
  const Codes want = reference.run(input), got = optimized.run(input);
  ASSERT_EQ(got.shape(), want.shape());
  ASSERT_EQ(got.format(), want.format());
  const auto a = got.to_int64(), b = want.to_int64();
  int64_t mismatches = 0, first = -1;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] && mismatches++ == 0) first = static_cast<int64_t>(i);
  EXPECT_EQ(mismatches, 0) << "first mismatch at " << first << ": " << a[static_cast<size_t>(first)] << " vs "
                           << b[static_cast<size_t>(first)];
  // The outputs are not all clamped to one end: the test exercises the requantization range.
  if (b.size() >= 16) {
    const int64_t lo = want.format().code_min(), hi = want.format().code_max();
    EXPECT_GT(std::count_if(b.begin(), b.end(), [&](int64_t v) { return v > lo && v < hi; }), 0);
  }
}

struct Case {
  const char* name;
  Widths widths;
};

class EngineEqualsReference : public ::testing::TestWithParam<std::tuple<Case, Isa>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "this CPU lacks " << fxnn::runtime::to_string(isa());
  }
  const Widths& widths() const { return std::get<0>(GetParam()).widths; }
  Isa isa() const { return std::get<1>(GetParam()); }
};

TEST_P(EngineEqualsReference, ConvolutionalNetwork) {
  // 3 input channels, 13 x 11 pixels: odd sizes, 17 and 33 output channels (partial 16-lane blocks).
  NetworkBuilder b(7, {3, 13, 11}, Format(8, 0, false));
  b.rescale(widths().activation)
      .conv(17, 3, 1, 1, widths(), true)
      .pool(OpKind::kMaxPool, 2, 2)
      .conv(33, 3, 2, 0, widths(), false)
      .pool(OpKind::kAvgPool, 2, 1)
      .flatten()
      .dense(19, widths(), true)
      .dense(5, widths(), false);
  const Network net = b.build();
  for (int64_t batch : {1, 3, 8}) expect_same(net, b.input(batch), isa(), 2);
}

TEST_P(EngineEqualsReference, ResidualBlockAndOneByOneConvolution) {
  NetworkBuilder b(11, {16, 6, 5}, widths().activation);
  b.conv(16, 3, 1, 1, widths(), true);
  const std::string skip = b.current();
  b.conv(16, 1, 1, 0, widths(), false)
      .add(skip, Format(widths().activation.bits, widths().activation.frac - 1, false), true);
  const Network net = b.build();
  expect_same(net, b.input(4), isa(), 2);
}

TEST_P(EngineEqualsReference, DenseLayersOfManySizes) {
  // Row tiles of 6 to 16 rows and 1 to 4+ column blocks, with remainders.
  for (int64_t outputs : {1, 15, 16, 17, 40, 64, 70}) {
    NetworkBuilder b(static_cast<uint64_t>(outputs), {37}, widths().activation);
    b.dense(outputs, widths(), outputs % 2 == 0);
    const Network net = b.build();
    for (int64_t batch : {1, 7, 25}) expect_same(net, b.input(batch), isa(), 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, EngineEqualsReference,
                         ::testing::Combine(::testing::Values(Case{"u8s8", fxnn::runtime_testing::narrow()},
                                                              Case{"s16s16", fxnn::runtime_testing::medium()},
                                                              Case{"wide", fxnn::runtime_testing::wide()}),
                                            ::testing::Values(Isa::kPortable, Isa::kAvx512Vnni, Isa::kAvx512Amx)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  fxnn::runtime::to_string(std::get<1>(info.param));
                         });

TEST(Engine, KernelFamiliesFollowTheFormats) {
  if (!isa_supported(Isa::kAvx512Vnni)) GTEST_SKIP();
  NetworkBuilder b(3, {4, 5, 5}, Format(8, 4, false));
  b.conv(8, 3, 1, 1, fxnn::runtime_testing::narrow(), true).flatten().dense(3, fxnn::runtime_testing::wide(), false);
  Engine e(b.build(), EngineOptions().with_isa(Isa::kAvx512Vnni));
  EXPECT_EQ(e.profile()[0].kernel, "conv2d u8s8 avx512vnni");
  EXPECT_EQ(e.profile()[2].kernel, "dense wide portable");
}

TEST(Engine, RequantizationByHand) {
  // One dense node: acc = 3 * 5 + (-2) * 7 = 1; v = 1 * 3 + 4 = 7; nearest: (7 + 2) >> 2 = 2; floor: 1.
  Network net;
  net.name = "hand";
  net.input_shape = {2};
  net.input_format = Format(8, 0, true);
  fxnn::ir::Node n;
  n.name = "fc";
  n.op = OpKind::kDense;
  n.inputs = {"input"};
  n.output_format = Format(8, 0, true);
  n.output_shape = {1};
  n.weight = fxnn::ir::IntTensor{{1, 2}, {3, -2}, Format(8, 0, true)};
  n.requantize = fxnn::ir::Requantize{{3}, 0, {4}, 2, Rounding::kNearest, -128, 127};
  net.nodes = {n};
  net.output = "fc";
  const int64_t x[] = {5, 7};
  const Codes input = Codes::from_values(Format(8, 0, true), {1, 2}, x);
  for (bool reference : {true, false}) {
    EXPECT_EQ(Engine(net, EngineOptions().with_reference(reference)).run(input).get(0), 2);
    net.nodes[0].requantize->rounding = Rounding::kFloor;
    EXPECT_EQ(Engine(net, EngineOptions().with_reference(reference)).run(input).get(0), 1);
    net.nodes[0].requantize->rounding = Rounding::kNearest;
  }
  // Ties round up: v = 6 -> (6 + 2) >> 2 = 2 (1.5 -> 2); v = -6 -> (-6 + 2) >> 2 = -1 (-1.5 -> -1).
  net.nodes[0].requantize->offset = {3};
  EXPECT_EQ(Engine(net).run(input).get(0), 2);
  net.nodes[0].requantize->offset = {-9};
  EXPECT_EQ(Engine(net).run(input).get(0), -1);
}

TEST(Engine, RejectsAnInputOfTheWrongShapeOrFormat) {
  NetworkBuilder b(5, {6}, Format(8, 0, false));
  b.dense(2, fxnn::runtime_testing::narrow(), false);
  Engine e(b.build());
  const int64_t x[7] = {};
  EXPECT_THROW(e.run(Codes::from_values(Format(8, 0, false), {1, 7}, x)), std::invalid_argument);
  EXPECT_THROW(e.run(Codes::from_values(Format(8, 1, false), {1, 6}, x)), std::invalid_argument);
}

} // namespace
