#include "channel_requant.h"

namespace fxnn::runtime {

ChannelRequant prepare_requant(const ir::Requantize& r, int64_t channels, int64_t padded, const ir::WorstCase& worst) {
  ChannelRequant q;
  q.multiplier.assign(static_cast<size_t>(padded), 0);
  q.order_mask.assign(static_cast<size_t>(padded), 0);
  q.offset.assign(static_cast<size_t>(padded), 0);
  q.lo = r.clamp_min;
  q.hi = r.clamp_max;
  q.shift = r.shift > 0 ? r.shift : 0;
  // Unsigned arithmetic: the products are exact for validated nodes, and no UB otherwise.
  const uint64_t left = r.shift < 0 ? uint64_t{1} << -r.shift : 1;
  const int64_t rounding = r.shift > 0 && r.rounding == Rounding::kNearest ? int64_t{1} << (r.shift - 1) : 0;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t m = r.multiplier.size() == 1 ? r.multiplier[0] : r.multiplier[static_cast<size_t>(c)];
    const int64_t o = r.offset.size() == 1 ? r.offset[0] : r.offset[static_cast<size_t>(c)];
    q.multiplier[static_cast<size_t>(c)] =
        worst.channel(c) == 0 ? 0 : static_cast<int64_t>(static_cast<uint64_t>(m) * left);
    q.offset[static_cast<size_t>(c)] = static_cast<int64_t>(static_cast<uint64_t>(o) * left) + rounding;
    q.order_mask[static_cast<size_t>(c)] = q.multiplier[static_cast<size_t>(c)] < 0 ? -1 : 0;
  }
  for (int64_t m : q.multiplier) q.narrow_multipliers = q.narrow_multipliers && m >= INT32_MIN && m <= INT32_MAX;
  return q;
}

} // namespace fxnn::runtime
