// Step sizes of the low-bit quantizer (docs/lowbit.md eq. (1)-(3)): the fast squared error equals a
// direct sum, the min-MSE step is at least as good as a dense search, max-abs covers the sample,
// power-of-two steps are the best power of two; ties, clamps and degenerate samples.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fxnn/lowbit/step_search.h"

namespace fxnn::lowbit {
namespace {

double direct_error(const std::vector<double>& x, double step, CodeRange codes) {
  long double sum = 0;
  for (double v : x) {
    const long double e = v - step * static_cast<double>(quantize_code(v, step, codes));
    sum += e * e;
  }
  return static_cast<double>(sum);
}

std::vector<double> gaussian(size_t n, double sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, sigma);
  std::vector<double> x(n);
  for (auto& v : x) v = d(rng);
  return x;
}

TEST(StepSearch, CodeRangesOfEachKind) {
  EXPECT_EQ(symmetric_codes(2).lo, -1);
  EXPECT_EQ(symmetric_codes(2).hi, 1);
  EXPECT_EQ(symmetric_codes(8).hi, 127);
  EXPECT_EQ(unsigned_codes(3).hi, 7);
  EXPECT_EQ(twos_complement_codes(8).lo, -128);
  EXPECT_EQ(twos_complement_codes(8).hi, 127);
}

TEST(StepSearch, QuantizeRoundsHalfUpAndClamps) {
  const CodeRange c = symmetric_codes(3); // [-3, 3]
  EXPECT_EQ(quantize_code(0.5, 1.0, c), 1);
  EXPECT_EQ(quantize_code(-0.5, 1.0, c), 0);
  EXPECT_EQ(quantize_code(-1.5, 1.0, c), -1);
  EXPECT_EQ(quantize_code(1.4999, 1.0, c), 1);
  EXPECT_EQ(quantize_code(2.5, 1.0, c), 3);
  EXPECT_EQ(quantize_code(100.0, 1.0, c), 3);
  EXPECT_EQ(quantize_code(-100.0, 1.0, c), -3);
  EXPECT_EQ(quantize_code(-0.3, 0.25, unsigned_codes(2)), 0); // the ReLU side
}

TEST(StepSearch, SquaredErrorEqualsTheDirectSum) {
  auto x = gaussian(5000, 0.7, 3);
  // Values exactly on decision thresholds and far beyond the clamp.
  for (double t : {0.125, 0.375, -0.125, -0.375, 5.0, -5.0, 0.0}) x.push_back(t);
  const ErrorProfile p(x);
  for (CodeRange c : {symmetric_codes(2), symmetric_codes(3), unsigned_codes(3), twos_complement_codes(8)})
    for (double step : {0.01, 0.25, 0.5, 0.9, 3.0}) {
      const double want = direct_error(x, step, c);
      EXPECT_NEAR(p.squared_error(step, c), want, 1e-9 * want + 1e-12)
          << "step " << step << " codes " << c.lo << ".." << c.hi;
    }
}

TEST(StepSearch, MinMseIsAtLeastAsGoodAsADenseSearch) {
  for (int bits : {2, 3, 4}) {
    const auto x = gaussian(20000, 0.05, static_cast<uint64_t>(bits));
    const ErrorProfile p(x);
    const CodeRange c = symmetric_codes(bits);
    const StepChoice best = choose_step(p, c, {StepRule::kMinMse, false, 0});
    const double top = max_abs_step(p, c);
    double dense = std::numeric_limits<double>::infinity();
    for (int i = 1; i <= 4000; ++i) dense = std::min(dense, p.squared_error(top * i / 4000.0, c));
    EXPECT_LE(best.squared_error, dense * (1 + 1e-9)) << bits << " bits";
    EXPECT_NEAR(best.squared_error, direct_error(x, best.step, c), 1e-9 * best.squared_error);
    // The optimum clips: well below the max-abs step for a Gaussian.
    EXPECT_LT(best.step, 0.8 * top);
  }
}

TEST(StepSearch, TwoPointSampleHasItsExactOptimum) {
  // x in {-1, 1}, ternary codes: Q = +-1 for any step in (2/3, 2), error 2n (1 - step)^2: optimum 1.
  const ErrorProfile p(std::vector<double>{-1, 1, -1, 1});
  const StepChoice c = choose_step(p, symmetric_codes(2), {StepRule::kMinMse, false, 0});
  EXPECT_NEAR(c.step, 1.0, 1e-6);
  EXPECT_NEAR(c.squared_error, 0.0, 1e-10);
  const StepChoice two = choose_step(p, symmetric_codes(2), {StepRule::kMinMse, true, 0});
  EXPECT_EQ(two.step, 1.0);
  EXPECT_EQ(two.exponent, 0);
}

TEST(StepSearch, MaxAbsCoversTheSample) {
  const ErrorProfile p(std::vector<double>{-0.3, 0.1, 1.4});
  EXPECT_DOUBLE_EQ(max_abs_step(p, symmetric_codes(3)), 1.4 / 3);
  EXPECT_DOUBLE_EQ(max_abs_step(p, twos_complement_codes(3)), 1.4 / 3);
  const ErrorProfile negative(std::vector<double>{-4.0, 1.0});
  EXPECT_DOUBLE_EQ(max_abs_step(negative, twos_complement_codes(3)), 1.0); // -4 = -4 * 1
  const StepChoice c = choose_step(p, symmetric_codes(3), {StepRule::kMaxAbs, false, 0});
  EXPECT_DOUBLE_EQ(c.step, 1.4 / 3);
  // Power of two: the smallest 2^e with 3 * 2^e >= 1.4 is 0.5; exactly at a power: 3 * 0.25 = 0.75.
  EXPECT_EQ(choose_step(p, symmetric_codes(3), {StepRule::kMaxAbs, true, 0}).step, 0.5);
  const ErrorProfile exact(std::vector<double>{0.75});
  const StepChoice e = choose_step(exact, symmetric_codes(3), {StepRule::kMaxAbs, true, 0});
  EXPECT_EQ(e.step, 0.25);
  EXPECT_EQ(e.exponent, -2);
}

TEST(StepSearch, PowerOfTwoMseIsTheBestPowerOfTwo) {
  const auto x = gaussian(10000, 0.02, 9);
  const ErrorProfile p(x);
  const CodeRange c = symmetric_codes(3);
  const StepChoice got = choose_step(p, c, {StepRule::kMinMse, true, 0});
  EXPECT_EQ(got.step, std::ldexp(1.0, got.exponent));
  for (int e = -20; e <= 2; ++e)
    EXPECT_LE(got.squared_error, p.squared_error(std::ldexp(1.0, e), c) * (1 + 1e-12)) << e;
}

TEST(StepSearch, MaxStepIsRespected) {
  const ErrorProfile p(std::vector<double>{0.0, 0.5, 2.0, 2.0, 2.0});
  const CodeRange c = unsigned_codes(2);
  EXPECT_LE(choose_step(p, c, {StepRule::kMaxAbs, false, 0.5}).step, 0.5);
  EXPECT_LE(choose_step(p, c, {StepRule::kMinMse, false, 0.5}).step, 0.5);
  EXPECT_EQ(choose_step(p, c, {StepRule::kMaxAbs, true, 0.6}).step, 0.5);
  EXPECT_LE(choose_step(p, c, {StepRule::kMinMse, true, 0.6}).step, 0.5);
}

TEST(StepSearch, ZerosAndEmptySamples) {
  const ErrorProfile zeros(std::vector<double>(10, 0.0));
  const StepChoice c = choose_step(zeros, symmetric_codes(2), {StepRule::kMinMse, true, 0});
  EXPECT_EQ(c.step, 1.0);
  EXPECT_EQ(c.squared_error, 0.0);
  EXPECT_THROW(choose_step(ErrorProfile({}), symmetric_codes(2), {}), std::invalid_argument);
  EXPECT_THROW(parse_step_rule("median"), std::invalid_argument);
  EXPECT_EQ(parse_step_rule("maxabs"), StepRule::kMaxAbs);
}

} // namespace
} // namespace fxnn::lowbit
