#pragma once
// Worst-case magnitudes of a node's integer accumulator, for the checks of validate() and for the
// runtime's choice of accumulator width (docs/fixed-point-network.md, section 2).

#include <cstdint>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::ir {

/// Shifts of eq. (3) are limited to |shift| <= 62 so that `>>` and `<<` stay defined on int64.
inline constexpr int kMaxShift = 62;

/// Upper bounds of |acc| (exact integers, saturated at 2^64 - 1), one per output channel or one for
/// the whole node:
///   conv2d, dense: sum_i |W[c,i]| * max|in|   rescale: max|in|   avgpool: kernel^2 * max|in|
///   add: max|a| 2^(F - F_a) + max|b| 2^(F - F_b)
/// with max|in| = max(|code_min|, |code_max|) of the input format.
struct WorstCase {
  std::vector<uint64_t> bound;

  uint64_t channel(int64_t c) const { return bound.size() == 1 ? bound[0] : bound[static_cast<size_t>(c)]; }
  uint64_t max() const;
  /// True when every |acc| <= 2^(bits-1) - 1, i.e. acc fits a signed integer of `bits` bits.
  bool fits(int bits) const;
  std::string max_str() const;
};

/// `inputs`: the formats of the node's inputs (two for add). Only for nodes with a requantize.
WorstCase worst_case_accumulator(const Node& node, const std::vector<Format>& inputs);

/// Largest |code| of a format: 2^(B-1) (signed) or 2^B - 1 (unsigned).
uint64_t max_abs_code(const Format& format);

/// Signed bits of the smallest two's-complement type holding every integer of [lo, hi] (at most 127).
int signed_bits(__int128 lo, __int128 hi);

/// Empty when eq. (3) for channel c cannot overflow int64 given |acc| <= worst: |acc * multiplier +
/// offset| plus the rounding constant 2^(shift-1), or times 2^-shift for a left shift, is below 2^63.
/// Otherwise a sentence that says what overflows.
std::string requantize_overflow(const Requantize& r, int64_t c, uint64_t worst);

} // namespace fxnn::ir
