#include "fxnn/core/format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace fxnn {
namespace {

TEST(Format, SignedStepRangeAndLimits) {
  const Format f = Format::parse("s8.7");
  EXPECT_EQ(f.bits, 8);
  EXPECT_EQ(f.frac, 7);
  EXPECT_TRUE(f.is_signed);
  EXPECT_DOUBLE_EQ(f.step(), 1.0 / 128);
  EXPECT_DOUBLE_EQ(f.range(), 1.0);
  EXPECT_EQ(f.code_min(), -128);
  EXPECT_EQ(f.code_max(), 127);
  EXPECT_DOUBLE_EQ(f.min(), -1.0);
  EXPECT_DOUBLE_EQ(f.max(), 1.0 - 1.0 / 128);
}

TEST(Format, UnsignedActivationFormatHasRangeTwo) {
  // The spec's activations: unsigned, r = 2, Delta = r * 2^-B.
  const Format f = Format::with_range(8, 2.0, false);
  EXPECT_EQ(f.str(), "u8.7");
  EXPECT_DOUBLE_EQ(f.step(), 2.0 / 256);
  EXPECT_EQ(f.code_min(), 0);
  EXPECT_EQ(f.code_max(), 255);
  EXPECT_DOUBLE_EQ(f.max(), 2.0 - 2.0 / 256);
}

TEST(Format, WithRangeMatchesSpecStep) {
  // Signed: Delta = r * 2^(1-B).
  for (int bits : {2, 5, 16, 30})
    for (double r : {0.125, 1.0, 8.0}) {
      const Format f = Format::with_range(bits, r, true);
      EXPECT_DOUBLE_EQ(f.step(), r * std::ldexp(1.0, 1 - bits));
      EXPECT_DOUBLE_EQ(f.range(), r);
    }
  EXPECT_THROW(Format::with_range(8, 3.0, true), std::invalid_argument);
}

TEST(Format, PrintParseRoundTrip) {
  for (const char* text : {"s8.7", "u8.7", "s16.auto", "u4.auto", "s12.-2", "s2.0", "s62.40", "u1.0"})
    EXPECT_EQ(Format::parse(text).str(), text);
}

TEST(Format, ParseRejectsMalformedTextWithTheText) {
  for (const char* text : {"", "8.7", "x8.7", "s8", "s.7", "s8.x", "s8.7x", "s1.0", "s63.0", "u0.0", "s8.200"}) {
    try {
      Format::parse(text);
      ADD_FAILURE() << "accepted '" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("'") + text + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(Format, ResolveAutoPicksSmallestPowerOfTwoAboveMaxAbs) {
  const Format a = Format::automatic(8, true);
  EXPECT_DOUBLE_EQ(a.resolve_auto(0.3).range(), 0.5);
  EXPECT_DOUBLE_EQ(a.resolve_auto(0.5).range(), 1.0); // strictly above: 0.5 itself is not representable in [-0.5, 0.5)
  EXPECT_DOUBLE_EQ(a.resolve_auto(0.49).range(), 0.5);
  EXPECT_DOUBLE_EQ(a.resolve_auto(5.0).range(), 8.0);
  EXPECT_DOUBLE_EQ(a.resolve_auto(0.0).range(), 1.0);
  EXPECT_FALSE(a.resolve_auto(1.0).auto_range);
  EXPECT_EQ(a.resolve_auto(1e-3).frac, 7 + 9); // 1e-3 < 2^-9
  EXPECT_THROW(Format::parse("s8.7").resolve_auto(1.0), std::logic_error);
}

} // namespace
} // namespace fxnn
