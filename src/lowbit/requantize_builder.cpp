#include "fxnn/lowbit/requantize_builder.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fxnn::lowbit {

namespace {

int64_t round_half_up(double x) { return static_cast<int64_t>(std::floor(x + 0.5)); }

/// The first channel for which eq. (3) could overflow int64, or -1.
int64_t overflowing_channel(const ir::Requantize& r, const ir::WorstCase& worst, int64_t channels) {
  for (int64_t c = 0; c < channels; ++c)
    if (!ir::requantize_overflow(r, c, worst.channel(c)).empty()) return c;
  return -1;
}

ir::Requantize with_target(const RequantizeTarget& target) {
  ir::Requantize r;
  r.rounding = target.rounding;
  r.clamp_min = target.clamp_min;
  r.clamp_max = target.clamp_max;
  return r;
}

} // namespace

bool is_power_of_two(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

int bit_length(uint64_t x) {
  int n = 0;
  while (x) ++n, x >>= 1;
  return n;
}

BuiltRequantize float_scale_requantize(const std::vector<double>& alpha, const std::vector<double>& beta,
                                       const ir::WorstCase& worst, const RequantizeTarget& target,
                                       int significant_bits) {
  const auto channels = static_cast<int64_t>(alpha.size());
  if (beta.size() != alpha.size()) throw std::invalid_argument("float_scale_requantize: alpha and beta differ in size");
  double smallest = std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < channels; ++c) {
    const double a = alpha[static_cast<size_t>(c)];
    if (!(a > 0) || !std::isfinite(a) || !std::isfinite(beta[static_cast<size_t>(c)]))
      throw std::invalid_argument("float_scale_requantize: channel " + std::to_string(c) + " has alpha " +
                                  std::to_string(a) + ", beta " + std::to_string(beta[static_cast<size_t>(c)]));
    if (worst.channel(c) > 0) smallest = std::min(smallest, a);
  }
  // 2^(bits-1) <= smallest 2^S < 2^bits; S within the shifts eq. (3) allows.
  int s = std::isfinite(smallest) ? significant_bits - 1 - std::ilogb(smallest) : 0;
  s = std::clamp(s, -ir::kMaxShift, ir::kMaxShift);
  for (;; --s) {
    BuiltRequantize b;
    b.requantize = with_target(target);
    b.requantize.multiplier_frac = s;
    b.requantize.shift = target.keep_fraction ? 0 : s;
    b.fraction_bits = s;
    for (int64_t c = 0; c < channels; ++c) {
      b.requantize.multiplier.push_back(round_half_up(std::ldexp(alpha[static_cast<size_t>(c)], s)));
      b.requantize.offset.push_back(round_half_up(std::ldexp(beta[static_cast<size_t>(c)], s)));
    }
    const double offset_max = std::ldexp(1.0, 62);
    const bool offsets_fit =
        std::all_of(beta.begin(), beta.end(), [&](double v) { return std::ldexp(std::abs(v), s) < offset_max; });
    if (offsets_fit && overflowing_channel(b.requantize, worst, channels) < 0) {
      b.significant_bits = std::numeric_limits<int>::max();
      for (int64_t c = 0; c < channels; ++c)
        if (worst.channel(c) > 0)
          b.significant_bits = std::min(
              b.significant_bits, bit_length(static_cast<uint64_t>(b.requantize.multiplier[static_cast<size_t>(c)])));
      if (b.significant_bits == std::numeric_limits<int>::max()) b.significant_bits = 0;
      return b;
    }
    if (s <= -ir::kMaxShift)
      throw std::runtime_error("float_scale_requantize: no common shift keeps eq. (3) within int64");
  }
}

BuiltRequantize shift_clip_requantize(const std::vector<int>& shift, const std::vector<int64_t>& bias,
                                      const ir::WorstCase& worst, const RequantizeTarget& target) {
  if (shift.size() != bias.size()) throw std::invalid_argument("shift_clip_requantize: shift and bias differ in size");
  const auto channels = static_cast<int64_t>(shift.size());
  const int s_max = std::max(0, channels ? *std::max_element(shift.begin(), shift.end()) : 0);
  BuiltRequantize b;
  b.requantize = with_target(target);
  b.requantize.shift = s_max;
  b.requantize.multiplier_frac = s_max;
  b.fraction_bits = s_max;
  for (int64_t c = 0; c < channels; ++c) {
    const int left = s_max - shift[static_cast<size_t>(c)];
    if (left > ir::kMaxShift)
      throw std::runtime_error("shift_clip_requantize: channel " + std::to_string(c) + " needs a multiplier 2^" +
                               std::to_string(left) + " (steps of its channels too far apart)");
    const int64_t m = int64_t{1} << left;
    const int64_t o = bias[static_cast<size_t>(c)];
    if (o != 0 && std::abs(o) > (std::numeric_limits<int64_t>::max() >> left))
      throw std::runtime_error("shift_clip_requantize: channel " + std::to_string(c) + ": bias " + std::to_string(o) +
                               " * 2^" + std::to_string(left) + " overflows int64");
    b.requantize.multiplier.push_back(m);
    b.requantize.offset.push_back(o * m);
  }
  const int64_t bad = overflowing_channel(b.requantize, worst, channels);
  if (bad >= 0)
    throw std::runtime_error("shift_clip_requantize: channel " + std::to_string(bad) + ": " +
                             ir::requantize_overflow(b.requantize, bad, worst.channel(bad)));
  return b;
}

} // namespace fxnn::lowbit
