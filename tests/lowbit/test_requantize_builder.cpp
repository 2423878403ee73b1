// The per-output maps of the low-bit modes as eq. (3) (docs/lowbit.md eq. (6) and (8)): float-scale
// multipliers carry at least 24 significant bits and reproduce round(alpha acc + beta) away from
// ties; shift-clip uses powers of two only and equals the integer formula exactly.

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "fxnn/lowbit/requantize_builder.h"
#include "fxnn/runtime/reference_kernels.h"

namespace fxnn::lowbit {
namespace {

ir::WorstCase worst_of(std::vector<uint64_t> bound) { return ir::WorstCase{std::move(bound)}; }

TEST(RequantizeBuilder, PowersOfTwoAndBitLengths) {
  EXPECT_TRUE(is_power_of_two(1));
  EXPECT_TRUE(is_power_of_two(int64_t{1} << 40));
  EXPECT_FALSE(is_power_of_two(0));
  EXPECT_FALSE(is_power_of_two(-4));
  EXPECT_FALSE(is_power_of_two(6));
  EXPECT_EQ(bit_length(0), 0);
  EXPECT_EQ(bit_length(1), 1);
  EXPECT_EQ(bit_length((1u << 24) - 1), 24);
  EXPECT_EQ(bit_length(1u << 24), 25);
}

TEST(RequantizeBuilder, FloatScaleKeepsTwentyFourSignificantBits) {
  const std::vector<double> alpha{0.3, 0.00123, 5.0, 1e-9};
  const std::vector<double> beta{-2.25, 0.7, 13.0, 0.0};
  // Channel 3 never accumulates (worst case 0): its tiny alpha must not set the shift.
  const auto worst = worst_of({1000, 1000, 1000, 0});
  const BuiltRequantize b = float_scale_requantize(alpha, beta, worst, {Rounding::kNearest, 0, 255, false});
  const auto& r = b.requantize;
  EXPECT_EQ(r.shift, b.fraction_bits);
  EXPECT_GE(b.significant_bits, 24);
  EXPECT_GE(r.multiplier[1], int64_t{1} << 23);
  EXPECT_LT(r.multiplier[1], int64_t{1} << 24);
  for (size_t c = 0; c < alpha.size(); ++c) {
    EXPECT_LE(std::abs(std::ldexp(static_cast<double>(r.multiplier[c]), -r.shift) - alpha[c]),
              std::ldexp(1.0, -r.shift - 1));
    EXPECT_LE(std::abs(std::ldexp(static_cast<double>(r.offset[c]), -r.shift) - beta[c]),
              std::ldexp(1.0, -r.shift - 1));
  }
}

TEST(RequantizeBuilder, FloatScaleRoundsLikeTheRealMultiplyAdd) {
  // eq. (3) with the built multiplier equals round(alpha acc + beta) wherever u is farther from a
  // tie than the rounding of alpha and beta to 2^-S can move it: (|acc| + 1) 2^-(S+1).
  const std::vector<double> alpha{0.0371, 0.91, 0.0052};
  const std::vector<double> beta{1.3, -4.7, 0.25};
  const auto worst = worst_of({20000});
  const BuiltRequantize b = float_scale_requantize(alpha, beta, worst, {Rounding::kNearest, -1000, 1000, false});
  int64_t compared = 0;
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t acc = -20000; acc <= 20000; acc += 7) {
      const long double u =
          static_cast<long double>(alpha[static_cast<size_t>(c)]) * acc + beta[static_cast<size_t>(c)];
      const long double margin = (std::abs(static_cast<long double>(acc)) + 1) * std::ldexp(1.0L, -b.fraction_bits - 1);
      const long double frac = u - std::floor(u);
      if (std::abs(frac - 0.5L) <= margin) continue;
      const int64_t want = std::clamp<int64_t>(static_cast<int64_t>(std::floor(u + 0.5L)), -1000, 1000);
      EXPECT_EQ(runtime::requantize_reference(acc, b.requantize, c), want) << "channel " << c << " acc " << acc;
      ++compared;
    }
  EXPECT_GT(compared, 15000);
}

TEST(RequantizeBuilder, FloatScaleLowersTheShiftOnlyAsFarAsInt64Needs) {
  // |acc| up to 2^40 with alpha ~ 1: 24 bits would need 2^40 * 2^24 = 2^64.
  const auto worst = worst_of({uint64_t{1} << 40});
  const BuiltRequantize b = float_scale_requantize({1.5}, {0.0}, worst, {Rounding::kNearest, 0, 0, true});
  EXPECT_EQ(b.requantize.shift, 0); // keep_fraction: logits keep every bit
  // 2^40 * m < 2^63 allows m < 2^23: 23 bits (m = 1.5 * 2^22), no fewer.
  EXPECT_EQ(b.significant_bits, 23);
  EXPECT_TRUE(ir::requantize_overflow(b.requantize, 0, worst.channel(0)).empty());
  const BuiltRequantize fewer = float_scale_requantize({1.5}, {0.0}, worst, {Rounding::kNearest, 0, 0, true}, 20);
  EXPECT_EQ(fewer.significant_bits, 20); // asked for fewer than int64 allows
}

TEST(RequantizeBuilder, FloatScaleRejectsNonPositiveScales) {
  EXPECT_THROW(float_scale_requantize({0.0}, {1.0}, worst_of({5}), {}), std::invalid_argument);
  EXPECT_THROW(float_scale_requantize({-1.0}, {1.0}, worst_of({5}), {}), std::invalid_argument);
  EXPECT_THROW(float_scale_requantize({1.0}, {NAN}, worst_of({5}), {}), std::invalid_argument);
}

TEST(RequantizeBuilder, ShiftClipIsPowersOfTwoAndExact) {
  const std::vector<int> shift{2, -1, 0, 5};
  const std::vector<int64_t> bias{3, -5, 0, 17};
  for (Rounding rounding : {Rounding::kNearest, Rounding::kFloor}) {
    const BuiltRequantize b = shift_clip_requantize(shift, bias, worst_of({4000}), {rounding, 0, 7, false});
    const auto& r = b.requantize;
    EXPECT_EQ(r.shift, 5);
    for (size_t c = 0; c < shift.size(); ++c) {
      EXPECT_TRUE(is_power_of_two(r.multiplier[c])) << r.multiplier[c];
      EXPECT_EQ(r.multiplier[c], int64_t{1} << (5 - shift[c]));
    }
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t acc = -4000; acc <= 4000; ++acc) {
        // (acc + b) 2^-s rounded (half up) or truncated (floor), then clamped to [0, 7].
        const int s = shift[static_cast<size_t>(c)];
        const int64_t v = acc + bias[static_cast<size_t>(c)];
        int64_t want = v * (int64_t{1} << std::max(0, -s));
        if (s > 0) want = rounding == Rounding::kNearest ? (v + (int64_t{1} << (s - 1))) >> s : v >> s;
        want = std::clamp<int64_t>(want, 0, 7);
        ASSERT_EQ(runtime::requantize_reference(acc, r, c), want) << "channel " << c << " acc " << acc;
      }
  }
}

TEST(RequantizeBuilder, ShiftClipRefusesWhatOverflows) {
  EXPECT_THROW(shift_clip_requantize({70, 0}, {0, 0}, worst_of({10}), {}), std::runtime_error);
  EXPECT_THROW(shift_clip_requantize({40, 0}, {0, 0}, worst_of({uint64_t{1} << 30}), {}), std::runtime_error);
}

} // namespace
} // namespace fxnn::lowbit
