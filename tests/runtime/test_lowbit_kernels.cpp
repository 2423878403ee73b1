// The narrow-accumulator kernels (src/runtime/gemm_narrow.h) equal the reference kernels bit for
// bit on low-bit networks; the portable engine chooses them exactly when the bound
// n max|W| max|a| + max|b| fits 16 bits (a bound of 2^15 - 1 runs narrow and reaches it; one above, by
// one more input or by the bias, falls back to 32 bits, as does a layer whose sum |W| max|a| fits but
// whose bound does not), the avx512vnni engine keeps its 32-bit kernels. Each implementation
// (AVX-512BW tiles, int16 loops) gives the exact sums on its own. Their speed: `fxnn bench narrow`.

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "fxnn/runtime/engine.h"
#include "gemm.h"
#include "gemm_narrow.h"
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

/// 3-bit activation codes, 3-bit (or 2-bit) weights: the codes of the low-bit converter.
Widths three_bit() { return {Format(3, 2, false), Format(3, 2, true), 32}; }
Widths two_bit() { return {Format(2, 1, false), Format(2, 1, true), 32}; }

std::vector<int64_t> run(const Network& net, const Codes& input, bool reference, Isa isa) {
  Engine e(net, EngineOptions().with_reference(reference).with_isa(isa).with_threads(2));
  return e.run(input).to_int64();
}

void expect_same_as_reference(const Network& net, const Codes& input, Isa isa) {
  const auto want = run(net, input, true, Isa::kPortable), got = run(net, input, false, isa);
  ASSERT_EQ(got.size(), want.size());
  int64_t mismatches = 0;
  for (size_t i = 0; i < got.size(); ++i) mismatches += got[i] != want[i];
  EXPECT_EQ(mismatches, 0) << "of " << got.size() << " codes";
}

/// How many nodes run a narrow-accumulator kernel.
int narrow_nodes(const Network& net, Isa isa) {
  // (the avx512vnni engine never chooses them: gemm_narrow.h, choose_narrow)
  Engine e(net, EngineOptions().with_isa(isa));
  int n = 0;
  for (const auto& p : e.profile()) n += p.kernel.find("i16") != std::string::npos;
  return n;
}

class NarrowKernels : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "this CPU lacks " << fxnn::runtime::to_string(GetParam());
  }
};

TEST_P(NarrowKernels, LowBitConvolutionalNetworkEqualsReference) {
  for (const Widths& w : {three_bit(), two_bit()}) {
    // 13 x 11 pixels, 17 and 33 channels: partial row tiles and 16-lane blocks.
    NetworkBuilder b(21, {3, 13, 11}, Format(8, 0, false));
    b.rescale(w.activation)
        .conv(17, 3, 1, 1, w, true)
        .pool(OpKind::kMaxPool, 2, 2)
        .conv(33, 3, 1, 1, w, true)
        .flatten()
        .dense(19, w, true)
        .dense(5, w, false);
    const Network net = b.build();
    EXPECT_EQ(narrow_nodes(net, GetParam()), GetParam() == Isa::kPortable ? 4 : 0);
    for (int64_t batch : {1, 5, 17}) expect_same_as_reference(net, b.input(batch), GetParam());
  }
}

TEST_P(NarrowKernels, DenseLayersOfManySizes) {
  // 1..5 column blocks (tiles of 16 x 1 to 6 x 4 plus remainder blocks), odd dot-product lengths.
  for (int64_t outputs : {1, 10, 16, 33, 48, 64, 70, 100}) {
    NetworkBuilder b(static_cast<uint64_t>(outputs) + 5, {53}, three_bit().activation);
    b.dense(outputs, three_bit(), outputs % 2 == 0);
    const Network net = b.build();
    ASSERT_EQ(narrow_nodes(net, GetParam()), GetParam() == Isa::kPortable ? 1 : 0);
    for (int64_t batch : {1, 6, 7, 13, 40}) expect_same_as_reference(net, b.input(batch), GetParam());
  }
}

/// One dense node of `inputs` weights, all equal to `w` (channel 1: -w), on u3 activations, with
/// `bias` added; output = the raw sum.
Network sum_network(int64_t inputs, int64_t w, const Format& weight_format, int64_t bias = 0) {
  Network net;
  net.name = "sum";
  net.input_shape = {inputs};
  net.input_format = Format(3, 0, false);
  fxnn::ir::Node n;
  n.name = "fc";
  n.op = OpKind::kDense;
  n.inputs = {"input"};
  n.output_format = Format(32, 0, true);
  n.output_shape = {2};
  n.weight = fxnn::ir::IntTensor{{2, inputs}, std::vector<int64_t>(static_cast<size_t>(2 * inputs), w), weight_format};
  for (int64_t i = 0; i < inputs; ++i) n.weight->data[static_cast<size_t>(inputs + i)] = -w; // the negative extreme
  n.requantize = fxnn::ir::Requantize{
      {1}, 0, {bias}, 0, Rounding::kNearest, Format(32, 0, true).code_min(), Format(32, 0, true).code_max()};
  net.nodes = {n};
  net.output = "fc";
  net.validate();
  return net;
}

TEST_P(NarrowKernels, TheSixteenBitBoundIsExact) {
  // 151 inputs of 7 times weights of 31: |sum| = 32767 = 2^15 - 1, the largest a 16-bit lane holds.
  const Format s6(6, 0, true);
  const Network at_bound = sum_network(151, 31, s6);
  EXPECT_EQ(narrow_nodes(at_bound, GetParam()), GetParam() == Isa::kPortable ? 1 : 0);
  const std::vector<int64_t> sevens(151, 7);
  const Codes all_max = Codes::from_values(Format(3, 0, false), {1, 151}, sevens.data());
  EXPECT_EQ(run(at_bound, all_max, false, GetParam()), (std::vector<int64_t>{32767, -32767}));
  // One more input: the worst case 32984 does not fit 16 bits; the 32-bit kernel runs and is exact.
  const Network beyond = sum_network(152, 31, s6);
  EXPECT_EQ(narrow_nodes(beyond, GetParam()), 0);
  const std::vector<int64_t> more(152, 7);
  EXPECT_EQ(run(beyond, Codes::from_values(Format(3, 0, false), {1, 152}, more.data()), false, GetParam()),
            (std::vector<int64_t>{32984, -32984}));
}

TEST_P(NarrowKernels, TheBoundIncludesTheBiasAndTheLargestWeight) {
  const Format s6(6, 0, true);
  // 151 inputs: 151 * 31 * 7 = 32767 fits; a bias of 1 makes the bound 32768, and the kernel 32-bit.
  const Network biased = sum_network(151, 31, s6, 1);
  EXPECT_EQ(narrow_nodes(biased, GetParam()), 0);
  const std::vector<int64_t> sevens(151, 7);
  EXPECT_EQ(run(biased, Codes::from_values(Format(3, 0, false), {1, 151}, sevens.data()), false, GetParam()),
            (std::vector<int64_t>{32768, -32766}));
  // 300 inputs of weight 1 and one of 31: sum |W| * 7 = 2310 fits 16 bits, 300 * 31 * 7 = 65100 does not.
  Network sparse = sum_network(300, 1, s6);
  sparse.nodes[0].weight->data[0] = 31;
  EXPECT_EQ(fxnn::runtime::accumulator_bound(sparse.nodes[0], sparse.input_format), 65100u);
  EXPECT_EQ(narrow_nodes(sparse, GetParam()), 0);
  // Without the 31: 300 * 1 * 7 = 2100 fits.
  const Network ones = sum_network(300, 1, s6);
  EXPECT_EQ(fxnn::runtime::accumulator_bound(ones.nodes[0], ones.input_format), 2100u);
  EXPECT_EQ(narrow_nodes(ones, GetParam()), GetParam() == Isa::kPortable ? 1 : 0);
}

/// gemm_requantize's raw sums (multiplier 1, shift 0, no clamp) of `rows` rows of A against W [n, k].
std::vector<int32_t> raw_sums(const fxnn::runtime::GemmWeights& b, const std::vector<uint8_t>& a, int64_t rows) {
  const fxnn::ir::Requantize identity{{1}, 0, {0}, 0, Rounding::kNearest, INT32_MIN, INT32_MAX};
  const auto rq = fxnn::runtime::prepare_requant(identity, b.n(), b.n_padded(), fxnn::ir::WorstCase{{32767}});
  std::vector<int32_t> sums(static_cast<size_t>(rows * b.n()));
  fxnn::runtime::gemm_requantize(b, a.data(), rows, b.k_padded(), rq,
                                 fxnn::runtime::GemmOutput{fxnn::runtime::DType::kI32, sums.data(), b.n()});
  return sums;
}

/// The implementations: int16 loops (portable packing) and AVX-512BW tiles (VNNI packing).
std::vector<Isa> narrow_packings() {
  std::vector<Isa> p{Isa::kPortable};
  if (isa_supported(Isa::kAvx512Vnni)) p.push_back(Isa::kAvx512Vnni);
  return p;
}

TEST(LowbitKernels, EachNarrowImplementationReachesTheBound) {
  // 151 products 7 * 31 and 7 * -31 in two columns: +-32767, the ends of a 16-bit lane's range.
  const int64_t k = 151;
  std::vector<int64_t> w(2 * k, 31);
  std::fill(w.begin() + k, w.end(), -31);
  for (Isa packing : narrow_packings()) {
    const fxnn::runtime::GemmWeights b(w, 2, k, fxnn::runtime::GemmKind::kU8S8, packing, true);
    std::vector<uint8_t> a(static_cast<size_t>(3 * b.k_padded()), 0);
    for (int64_t r = 0; r < 3; ++r) std::fill(a.begin() + r * b.k_padded(), a.begin() + r * b.k_padded() + k, 7);
    EXPECT_EQ(raw_sums(b, a, 3), (std::vector<int32_t>{32767, -32767, 32767, -32767, 32767, -32767}))
        << fxnn::runtime::gemm_name(b);
  }
}

TEST(LowbitKernels, EachNarrowImplementationGivesTheExactSums) {
  // The raw sums (multiplier 1, shift 0, no clamp) of every implementation against int64 dot products,
  // at the extremes of 3-bit codes, for row counts around the tile heights and odd lengths.
  std::mt19937_64 rng(4);
  for (int64_t n : {1, 5, 16, 17, 33, 64, 70})
    for (int64_t k : {1, 3, 4, 37, 300})
      for (int64_t rows : {1, 6, 7, 13, 16, 23}) {
        std::vector<int64_t> w(static_cast<size_t>(n * k));
        for (auto& v : w) v = rng() % 4 == 0 ? 3 * (rng() % 2 ? 1 : -1) : static_cast<int64_t>(rng() % 7) - 3;
        for (Isa packing : narrow_packings()) {
          const fxnn::runtime::GemmWeights b(w, n, k, fxnn::runtime::GemmKind::kU8S8, packing, true);
          ASSERT_TRUE(b.narrow());
          std::vector<uint8_t> a(static_cast<size_t>(rows * b.k_padded()), 0);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < k; ++i)
              a[static_cast<size_t>(r * b.k_padded() + i)] = rng() % 3 == 0 ? 7 : rng() % 8;
          const auto got = raw_sums(b, a, rows);
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < n; ++j) {
              int64_t want = 0;
              for (int64_t i = 0; i < k; ++i)
                want += w[static_cast<size_t>(j * k + i)] * a[static_cast<size_t>(r * b.k_padded() + i)];
              ASSERT_EQ(got[static_cast<size_t>(r * n + j)], want) << fxnn::runtime::gemm_name(b) << " n " << n << " k "
                                                                   << k << " rows " << rows << " at " << r << ", " << j;
            }
        }
      }
}

INSTANTIATE_TEST_SUITE_P(Isas, NarrowKernels, ::testing::Values(Isa::kPortable, Isa::kAvx512Vnni),
                         [](const auto& info) { return fxnn::runtime::to_string(info.param); });

} // namespace
