#pragma once
// The per-output map of a low-bit layer as the requantization of eq. (3) of
// docs/fixed-point-network.md (v = acc * multiplier[c] + offset[c]; out = clamp(round_shift(v, shift))):
//  - float-scale: u_c = alpha_c acc + beta_c with alpha_c, beta_c rounded to a common grid 2^-S that
//    gives every alpha_c at least 24 significant bits (float32's precision), docs/lowbit.md eq. (6);
//  - shift-clip: (acc + b_c) 2^-s_c with a power-of-two multiplier per channel and one shift,
//    docs/lowbit.md eq. (8).
// Plain C++: no LibTorch.

#include <cstdint>
#include <vector>

#include "fxnn/core/rounding.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/ir/worst_case.h"

namespace fxnn::lowbit {

/// float32 carries 24 significant bits.
inline constexpr int kFloat32SignificantBits = 24;

/// Where the requantized value goes.
struct RequantizeTarget {
  Rounding rounding = Rounding::kNearest;
  int64_t clamp_min = 0;
  int64_t clamp_max = 0;
  /// Logits: shift 0, so the output keeps every bit of v (its fractional bits are `fraction_bits`).
  bool keep_fraction = false;
};

struct BuiltRequantize {
  ir::Requantize requantize;
  int fraction_bits = 0;    // S: multiplier ~ 2^S alpha (float-scale) or 2^(S - s_c) (shift-clip)
  int significant_bits = 0; // float-scale: bits of the smallest multiplier of a channel that accumulates
};

/// eq. (6): multiplier_c = round(alpha_c 2^S), offset_c = round(beta_c 2^S), shift S (0 with
/// keep_fraction). S gives the smallest alpha_c (alpha_c > 0) of a channel whose worst case is not 0
/// `significant_bits` bits, lowered only as far as int64 requires (ir::requantize_overflow).
/// Throws std::invalid_argument when an alpha_c is not positive and finite.
BuiltRequantize float_scale_requantize(const std::vector<double>& alpha, const std::vector<double>& beta,
                                       const ir::WorstCase& worst, const RequantizeTarget& target,
                                       int significant_bits = kFloat32SignificantBits);

/// eq. (8): with S = max(0, max_c s_c): multiplier_c = 2^(S - s_c), offset_c = b_c 2^(S - s_c),
/// shift S. Throws std::runtime_error when eq. (3) could overflow int64.
BuiltRequantize shift_clip_requantize(const std::vector<int>& shift, const std::vector<int64_t>& bias,
                                      const ir::WorstCase& worst, const RequantizeTarget& target);

/// True for 1, 2, 4, ... (a positive power of two).
bool is_power_of_two(int64_t x);

/// Number of bits of |x| (0 for 0): a multiplier in [2^23, 2^24) has 24.
int bit_length(uint64_t x);

} // namespace fxnn::lowbit
