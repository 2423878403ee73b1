#include "fxnn/ir/worst_case.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>

namespace fxnn::ir {

namespace {

// unsigned __int128 holds every intermediate exactly: bounds are below 2^64 and multipliers below 2^63.
using Wide = unsigned __int128;
constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();
constexpr Wide kInt64Max = (Wide{1} << 63) - 1;

uint64_t saturate(Wide x) { return x > kSaturated ? kSaturated : static_cast<uint64_t>(x); }

uint64_t magnitude(int64_t x) { return x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x); }

/// max|x| * 2^shift, saturated.
uint64_t scaled(uint64_t max_abs, int shift) {
  if (shift >= 64) return max_abs == 0 ? 0 : kSaturated;
  return saturate(static_cast<Wide>(max_abs) << shift);
}

} // namespace

uint64_t max_abs_code(const Format& format) {
  return std::max(magnitude(format.code_min()), magnitude(format.code_max()));
}

int signed_bits(__int128 lo, __int128 hi) {
  int bits = 1;
  while (bits < 127 &&
         (lo < -(static_cast<__int128>(1) << (bits - 1)) || hi > (static_cast<__int128>(1) << (bits - 1)) - 1))
    ++bits;
  return bits;
}

uint64_t WorstCase::max() const { return bound.empty() ? 0 : *std::max_element(bound.begin(), bound.end()); }

bool WorstCase::fits(int bits) const {
  if (bits >= 65) return true;
  return max() <= (uint64_t{1} << (bits - 1)) - 1;
}

std::string WorstCase::max_str() const {
  const uint64_t m = max();
  return m == kSaturated ? std::string(">= 2^64") : std::to_string(m);
}

WorstCase worst_case_accumulator(const Node& node, const std::vector<Format>& inputs) {
  if (inputs.empty()) throw std::logic_error("worst_case_accumulator: no input formats");
  const uint64_t in_max = max_abs_code(inputs[0]);
  WorstCase worst;
  switch (node.op) {
    case OpKind::kConv2d:
    case OpKind::kDense: {
      const IntTensor& w = *node.weight;
      const int64_t channels = w.shape.at(0);
      const int64_t per_channel = channels > 0 ? w.numel() / channels : 0;
      for (int64_t c = 0; c < channels; ++c) {
        Wide sum = 0;
        for (int64_t i = 0; i < per_channel; ++i) sum += magnitude(w.data[static_cast<size_t>(c * per_channel + i)]);
        worst.bound.push_back(saturate(std::min<Wide>(sum, kSaturated) * in_max));
      }
      break;
    }
    case OpKind::kRescale: worst.bound = {in_max}; break;
    case OpKind::kAvgPool:
      worst.bound = {saturate(static_cast<Wide>(static_cast<uint64_t>(node.kernel * node.kernel)) * in_max)};
      break;
    case OpKind::kAdd: {
      const int frac = std::max(inputs.at(0).frac, inputs.at(1).frac);
      const Wide sum = static_cast<Wide>(scaled(in_max, frac - inputs[0].frac)) +
                       scaled(max_abs_code(inputs[1]), frac - inputs[1].frac);
      worst.bound = {saturate(sum)};
      break;
    }
    default: throw std::logic_error("worst_case_accumulator: node " + node.name + " has no accumulator");
  }
  return worst;
}

std::string requantize_overflow(const Requantize& r, int64_t c, uint64_t worst) {
  const auto pick = [c](const std::vector<int64_t>& v) { return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)]; };
  const Wide v_max = static_cast<Wide>(worst) * magnitude(pick(r.multiplier)) + magnitude(pick(r.offset));
  const std::string what = "|acc * multiplier + offset| can reach " +
                           (v_max > kSaturated ? std::string(">= 2^64") : std::to_string(saturate(v_max)));
  if (r.shift > 0) {
    const Wide rounding = r.rounding == Rounding::kNearest ? Wide{1} << (r.shift - 1) : 0;
    if (v_max + rounding > kInt64Max) return what + ", beyond int64 with the rounding constant";
  } else if (r.shift < 0) {
    if (v_max > (kInt64Max >> -r.shift))
      return what + ", beyond int64 after the left shift by " + std::to_string(-r.shift);
  } else if (v_max > kInt64Max) {
    return what + ", beyond int64";
  }
  return {};
}

} // namespace fxnn::ir
