#include "fxnn/core/quantize_kernels.h"
#include "fxnn/core/straight_through.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace fxnn {
namespace {

std::vector<float> random_values(int64_t n, float spread, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, spread);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

float quantize_one(float x, const char* format, Rounding r = Rounding::kNearest) {
  float y = 0;
  quantize_reference(&x, &y, 1, Format::parse(format), r, 0);
  return y;
}

TEST(QuantizeKernels, NearestBreaksTiesUpward) {
  // s8.2 has step 0.25; ties sit at odd multiples of 0.125.
  EXPECT_EQ(quantize_one(0.125f, "s8.2"), 0.25f);
  EXPECT_EQ(quantize_one(-0.125f, "s8.2"), 0.0f);
  EXPECT_EQ(quantize_one(-0.375f, "s8.2"), -0.25f);
  EXPECT_EQ(quantize_one(0.375f, "s8.2"), 0.5f);
  EXPECT_EQ(quantize_one(0.12f, "s8.2"), 0.0f);
  EXPECT_EQ(quantize_one(-0.13f, "s8.2"), -0.25f);
}

TEST(QuantizeKernels, FloorTruncatesTowardMinusInfinity) {
  EXPECT_EQ(quantize_one(0.49f, "s8.2", Rounding::kFloor), 0.25f);
  EXPECT_EQ(quantize_one(-0.01f, "s8.2", Rounding::kFloor), -0.25f);
  EXPECT_EQ(quantize_one(0.25f, "s8.2", Rounding::kFloor), 0.25f);
}

TEST(QuantizeKernels, NearestIsExactJustBelowATie) {
  // y = 0.5 - 2^-25: floor(y + 0.5) would round to 1 in float arithmetic; the kernel must give 0.
  const float just_below_half = std::nextafter(0.5f, 0.0f);
  EXPECT_EQ(quantize_one(just_below_half, "s8.0"), 0.0f);
  EXPECT_EQ(quantize_one(0.5f, "s8.0"), 1.0f);
  std::vector<float> x(37, just_below_half), y(37);
  quantize(x.data(), y.data(), 37, Format::parse("s8.0"), Rounding::kNearest, 0);
  for (float v : y) EXPECT_EQ(v, 0.0f);
}

TEST(QuantizeKernels, SaturatesBothEndsAndCountsEachSide) {
  const Format f = Format::parse("s4.2"); // codes [-8, 7], values [-2, 1.75]
  std::vector<float> x = {-5.0f, -2.0f, -2.1f, 1.75f, 1.8f, 1.874f, 1.875f, 100.0f, 0.0f};
  std::vector<float> y(x.size());
  const auto count = quantize_reference(x.data(), y.data(), static_cast<int64_t>(x.size()), f, Rounding::kNearest, 0);
  const std::vector<float> expected = {-2.0f, -2.0f, -2.0f, 1.75f, 1.75f, 1.75f, 1.75f, 1.75f, 0.0f};
  EXPECT_EQ(y, expected);
  EXPECT_EQ(count.below, 1); // -5 only: -2.1 has code -8.4, which rounds to -8 = code_min
  EXPECT_EQ(count.above, 2); // 1.875 (code 7.5 rounds up to 8) and 100
}

TEST(QuantizeKernels, UnsignedClampsNegativeToZero) {
  const Format f = Format::parse("u8.7"); // [0, 2 - 2^-7]
  std::vector<float> x = {-0.3f, 0.0f, 1.0f, 2.0f, 3.0f};
  std::vector<float> y(x.size());
  const auto count = quantize_reference(x.data(), y.data(), 5, f, Rounding::kNearest, 0);
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[2], 1.0f);
  EXPECT_EQ(y[3], 2.0f - 1.0f / 128);
  EXPECT_EQ(count.below, 1);
  EXPECT_EQ(count.above, 2);
}

TEST(QuantizeKernels, MatchesDoublePrecisionOracle) {
  // Oracle: the definition evaluated in long double. The kernel must be exact (0 ulp).
  const auto x = random_values(10007, 1.5f, 7);
  for (const char* text : {"s8.7", "s16.12", "u8.7", "s24.20", "s3.1", "s12.-2"}) {
    const Format f = Format::parse(text);
    std::vector<float> y(x.size());
    quantize(x.data(), y.data(), static_cast<int64_t>(x.size()), f, Rounding::kNearest, 0);
    for (size_t i = 0; i < x.size(); ++i) {
      long double code = std::floor(static_cast<long double>(x[i]) / f.step() + 0.5L);
      code = std::min<long double>(std::max<long double>(code, f.code_min()), f.code_max());
      ASSERT_EQ(static_cast<long double>(y[i]), code * f.step()) << text << " x=" << x[i];
    }
  }
}

struct KernelCase {
  const char* format;
  Rounding rounding;
};

class OptimizedEqualsReference : public ::testing::TestWithParam<KernelCase> {};

TEST_P(OptimizedEqualsReference, BitForBitOnOddSizesAndInPlace) {
  const Format f = Format::parse(GetParam().format);
  for (int64_t n : {int64_t{0}, int64_t{1}, int64_t{17}, int64_t{65535}, int64_t{65537}, int64_t{300001}}) {
    auto x = random_values(n, 3.0f, static_cast<uint32_t>(n) + 1);
    if (n > 10) {
      x[3] = std::numeric_limits<float>::quiet_NaN();
      x[4] = std::numeric_limits<float>::infinity();
      x[5] = -std::numeric_limits<float>::infinity();
      x[6] = -0.0f;
    }
    std::vector<float> ref(n), fast(n);
    const auto c_ref = quantize_reference(x.data(), ref.data(), n, f, GetParam().rounding, 42);
    const auto c_fast = quantize(x.data(), fast.data(), n, f, GetParam().rounding, 42);
    EXPECT_EQ(c_ref.below, c_fast.below);
    EXPECT_EQ(c_ref.above, c_fast.above);
    for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(ref[i], fast[i])) << i << ": " << ref[i] << " vs " << fast[i];
    // in place
    std::vector<float> inplace = x;
    quantize(inplace.data(), inplace.data(), n, f, GetParam().rounding, 42);
    for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(ref[i], inplace[i])) << i;
    // double precision agrees with float wherever the float result is exact
    std::vector<double> xd(x.begin(), x.end()), yd(n), yd_ref(n);
    quantize(xd.data(), yd.data(), n, f, GetParam().rounding, 42);
    quantize_reference(xd.data(), yd_ref.data(), n, f, GetParam().rounding, 42);
    for (int64_t i = 0; i < n; ++i) {
      if (std::isnan(yd_ref[i])) {
        ASSERT_TRUE(std::isnan(yd[i]));
        continue;
      }
      ASSERT_EQ(yd[i], yd_ref[i]) << i;
      if (f.bits <= 24) ASSERT_EQ(static_cast<float>(yd[i]), ref[i]) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, OptimizedEqualsReference,
    ::testing::Values(KernelCase{"s8.7", Rounding::kNearest}, KernelCase{"u8.7", Rounding::kNearest},
                      KernelCase{"s16.10", Rounding::kNearest}, KernelCase{"s2.0", Rounding::kNearest},
                      KernelCase{"s8.7", Rounding::kFloor}, KernelCase{"u4.2", Rounding::kFloor},
                      KernelCase{"s8.3", Rounding::kStochastic}, KernelCase{"s30.20", Rounding::kNearest},
                      KernelCase{"s12.-2", Rounding::kStochastic}));

TEST(QuantizeKernels, StochasticIsUnbiasedAndSeeded) {
  const Format f = Format::parse("s8.0"); // step 1
  const int64_t n = 200000;
  std::vector<float> x(n, 0.3f), y(n), y2(n), y3(n);
  quantize(x.data(), y.data(), n, f, Rounding::kStochastic, 1);
  quantize(x.data(), y2.data(), n, f, Rounding::kStochastic, 1);
  quantize(x.data(), y3.data(), n, f, Rounding::kStochastic, 2);
  double mean = 0;
  for (float v : y) {
    ASSERT_TRUE(v == 0.0f || v == 1.0f);
    mean += v;
  }
  mean /= n;
  // Binomial(n, 0.3): standard deviation of the mean ~ 0.001; allow 5 sigma.
  EXPECT_NEAR(mean, 0.3, 0.005);
  EXPECT_EQ(y, y2);
  EXPECT_NE(y, y3);
  // Values already on the grid are never moved.
  std::vector<float> grid = {-3.0f, 0.0f, 5.0f}, out(3);
  quantize(grid.data(), out.data(), 3, f, Rounding::kStochastic, 9);
  EXPECT_EQ(out, grid);
}

TEST(QuantizeKernels, CodesRoundTrip) {
  const Format f = Format::parse("s6.3");
  std::vector<float> x = {-4.5f, -0.0625f, 0.0625f, 0.1875f, 3.9f, 9.0f};
  std::vector<int64_t> codes(x.size());
  const auto count = quantize_to_codes(x.data(), codes.data(), 6, f, Rounding::kNearest, 0);
  EXPECT_EQ(codes, (std::vector<int64_t>{-32, 0, 1, 2, 31, 31}));
  EXPECT_EQ(count.below, 1); // -36
  EXPECT_EQ(count.above, 1); // 72 (3.9 -> 31.2 rounds to 31, inside)
  std::vector<float> back(6), direct(6);
  codes_to_values(codes.data(), back.data(), 6, f);
  quantize(x.data(), direct.data(), 6, f, Rounding::kNearest, 0);
  EXPECT_EQ(back, direct);
}

TEST(QuantizeKernels, MaxAbsAgreesWithReferenceAndReportsNaN) {
  auto x = random_values(300007, 2.0f, 3);
  x[123456] = -17.25f;
  EXPECT_EQ(max_abs(x.data(), 300007), 17.25f);
  EXPECT_EQ(max_abs(x.data(), 300007), max_abs_reference(x.data(), 300007));
  EXPECT_EQ(max_abs(x.data(), 0), 0.0f);
  x[200000] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(max_abs(x.data(), 300007)));
  EXPECT_TRUE(std::isnan(max_abs_reference(x.data(), 300007)));
}

TEST(QuantizeKernels, RejectsUnresolvedAutoFormat) {
  float x = 1, y = 0;
  EXPECT_THROW(quantize(&x, &y, 1, Format::automatic(8, true), Rounding::kNearest, 0), std::invalid_argument);
}

} // namespace
} // namespace fxnn

namespace fxnn {
namespace {

TEST(QuantizeMasked, EqualsQuantizeThenStraightThroughAndOptimizedEqualsReference) {
  for (Rounding r : {Rounding::kNearest, Rounding::kFloor, Rounding::kStochastic}) {
    for (int64_t n : {int64_t{1}, int64_t{31}, int64_t{200003}}) {
      const auto g = random_values(n, 0.01f, 11);
      auto x = random_values(n, 1.5f, 12);
      if (n > 10) x[5] = std::numeric_limits<float>::quiet_NaN();
      const Format f = Format::parse("s12.15");
      std::vector<float> q(n), composed(n), ref(n), fast(n), inplace = g;
      const auto c_q = quantize_reference(g.data(), q.data(), n, f, r, 9);
      straight_through_reference(x.data(), q.data(), composed.data(), n, 0.0f, 1.875f);
      const auto c_ref = quantize_masked_reference(g.data(), x.data(), ref.data(), n, f, r, 9, 0.0f, 1.875f);
      const auto c_fast = quantize_masked(g.data(), x.data(), fast.data(), n, f, r, 9, 0.0f, 1.875f);
      quantize_masked(inplace.data(), x.data(), inplace.data(), n, f, r, 9, 0.0f, 1.875f);
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(same_bits(composed[i], ref[i])) << i;
        ASSERT_TRUE(same_bits(ref[i], fast[i])) << i;
        ASSERT_TRUE(same_bits(ref[i], inplace[i])) << i;
      }
      EXPECT_EQ(c_q.below, c_ref.below);
      EXPECT_EQ(c_q.above, c_ref.above);
      EXPECT_EQ(c_ref.below, c_fast.below);
      EXPECT_EQ(c_ref.above, c_fast.above);
    }
  }
}

TEST(StraightThrough, OptimizedEqualsReferenceAndMasksOutsideTheRange) {
  const int64_t n = 150001;
  const auto g = random_values(n, 1.0f, 21);
  auto x = random_values(n, 2.0f, 22);
  x[0] = -2.0f;                                   // lo: inside
  x[1] = 1.75f;                                   // hi: inside
  x[2] = 1.76f;                                   // outside
  x[3] = std::numeric_limits<float>::quiet_NaN(); // outside
  std::vector<float> ref(n), fast(n);
  straight_through_reference(x.data(), g.data(), ref.data(), n, -2.0f, 1.75f);
  straight_through(x.data(), g.data(), fast.data(), n, -2.0f, 1.75f);
  for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same_bits(ref[i], fast[i])) << i;
  EXPECT_EQ(ref[0], g[0]);
  EXPECT_EQ(ref[1], g[1]);
  EXPECT_EQ(ref[2], 0.0f);
  EXPECT_EQ(ref[3], 0.0f);
}

} // namespace
} // namespace fxnn
