#pragma once
// The fixed-point number format: the one type every part of fxnn speaks (docs/number-system.md).

#include <cstdint>
#include <string>

namespace fxnn {

/// A two's-complement (or unsigned) fixed-point format.
///
/// Notation (printing and parsing, docs/number-system.md eq. (1)-(3)):
///   "s8.7"     signed,   B = 8 bits including the sign bit, 7 fractional bits: step 2^-7, range [-1, 1)
///   "u8.7"     unsigned, B = 8 bits, 7 fractional bits: step 2^-7, range [0, 2)
///   "s16.auto" signed 16 bits whose fractional bits are chosen per tensor from max|x| (dynamic fixed point)
///   "s12.-2"   a negative number of fractional bits is allowed: step 4.
/// The power-of-two range r of the spec is 2^(B-1-frac) for signed and 2^(B-frac) for unsigned formats.
struct Format {
  static constexpr int kMaxBits = 62;  // codes and sums of two codes fit in int64_t
  static constexpr int kMaxFrac = 126; // step 2^-126 is the smallest normal float

  int bits = 8;            // word length B, sign bit included
  int frac = 0;            // fractional bits: step = 2^-frac (ignored when auto_range)
  bool is_signed = true;   // two's complement when true
  bool auto_range = false; // frac chosen per tensor by resolve_auto()

  Format() = default;
  Format(int bits, int frac, bool is_signed, bool auto_range = false);

  /// Format of B bits whose power-of-two range r makes values fill [-r, r) (signed) or [0, r).
  static Format with_range(int bits, double range, bool is_signed);
  /// Signed/unsigned auto-range format of B bits.
  static Format automatic(int bits, bool is_signed);
  /// Parses the notation above; throws std::invalid_argument naming the text.
  static Format parse(const std::string& text);

  /// This format with frac chosen so that max_abs fits: r = smallest power of two > max_abs
  /// (eq. (4)); a tensor of zeros gets r = 1. Only for auto_range formats.
  Format resolve_auto(double max_abs) const;

  double step() const;      // 2^-frac
  double range() const;     // r
  int64_t code_min() const; // -2^(B-1) or 0
  int64_t code_max() const; // 2^(B-1)-1 or 2^B-1
  double min() const { return static_cast<double>(code_min()) * step(); }
  double max() const { return static_cast<double>(code_max()) * step(); }
  /// Integer bits left of the binary point, sign included (ap_fixed<W,I>'s I).
  int integer_bits() const { return bits - frac; }

  std::string str() const;
  bool operator==(const Format& o) const;
  bool operator!=(const Format& o) const { return !(*this == o); }
};

} // namespace fxnn
