#pragma once
// eq. (3) of docs/fixed-point-network.md prepared for the optimized kernels: per-channel int64
// multiplier and offset with the rounding constant and any left shift folded in, so that the
// inner loops are branch-free:
//   nearest, s > 0:  (acc m + o + 2^(s-1)) >> s  =  (acc m + o')  >> s   with o' = o + 2^(s-1)
//   floor,   s > 0:  (acc m + o) >> s
//   s <= 0:          (acc m + o) 2^-s  =  acc m' + o'  (shift 0)   with m' = m 2^-s, o' = o 2^-s
// Every folded value fits int64 for a validated node (ir::requantize_overflow), so the result
// equals requantize_reference bit for bit.

#include <cstdint>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/ir/worst_case.h"
#include "multiversion.h"

namespace fxnn::runtime {

struct ChannelRequant {
  std::vector<int64_t> multiplier; // per channel, padded with zeros
  std::vector<int64_t> offset;
  int shift = 0;          // >= 0
  int64_t lo = 0, hi = 0; // the clamp
  /// -1 where the multiplier is negative, else 0 (int32 lanes, padded like `multiplier`): eq. (3) is
  /// non-decreasing in acc where it is 0 and non-increasing where it is -1, so a max-pool of the
  /// requantized codes is the requantization of mask ^ max(acc ^ mask) over the window (x ^ -1 = ~x
  /// reverses the order of two's complement integers). Used by the fused conv + max-pool epilogues.
  std::vector<int32_t> order_mask;
  bool narrow_multipliers = true; // every multiplier within [-2^31, 2^31)
};

/// `padded` >= channels entries; `worst` bounds |acc| per channel (ir::worst_case_accumulator): a
/// channel whose accumulator is always 0 gets multiplier 0, so a left shift cannot overflow there.
ChannelRequant prepare_requant(const ir::Requantize& r, int64_t channels, int64_t padded, const ir::WorstCase& worst);

FXNN_ALWAYS_INLINE int64_t requantize_folded(int64_t acc, int64_t multiplier, int64_t offset, int shift, int64_t lo,
                                             int64_t hi) {
  const int64_t v = (acc * multiplier + offset) >> shift;
  return v < lo ? lo : (v > hi ? hi : v);
}

} // namespace fxnn::runtime
