#include "exact_bounds.h"

#include <algorithm>
#include <cmath>

namespace fxnn::onnx_export {

namespace {

using Wide = unsigned __int128;
constexpr uint64_t kSaturated = ~uint64_t{0};

uint64_t saturate(Wide x) { return x > kSaturated ? kSaturated : static_cast<uint64_t>(x); }

uint64_t magnitude(int64_t x) { return x < 0 ? uint64_t{0} - static_cast<uint64_t>(x) : static_cast<uint64_t>(x); }

} // namespace

std::string bound_name(uint64_t bound) {
  for (int e = 0; e < 64; ++e)
    if (bound == uint64_t{1} << e) return "2^" + std::to_string(e);
  return std::to_string(bound);
}

uint64_t requantize_magnitude(const ir::Requantize& r, const ir::WorstCase& worst, int64_t channels) {
  const auto pick = [](const std::vector<int64_t>& v, int64_t c) { return v.size() == 1 ? v[0] : v[size_t(c)]; };
  uint64_t largest = 0;
  for (int64_t c = 0; c < channels; ++c) {
    Wide v = static_cast<Wide>(worst.channel(c)) * magnitude(pick(r.multiplier, c)) + magnitude(pick(r.offset, c));
    if (r.shift > 0 && r.rounding == Rounding::kNearest) v += Wide{1} << (r.shift - 1);
    if (r.shift < 0) v = saturate(v) >= (uint64_t{1} << (64 + r.shift)) ? Wide{kSaturated} : v << -r.shift;
    largest = std::max(largest, saturate(v));
  }
  return largest;
}

// long double holds every int64 exactly, so the comparisons below see any rounding of the conversion.
std::optional<float> exact_float32(int64_t x, int exponent) {
  const long double exact = std::ldexp(static_cast<long double>(x), exponent);
  const float f = static_cast<float>(exact);
  if (static_cast<long double>(f) != exact) return std::nullopt;
  return f;
}

std::optional<double> exact_float64(int64_t x, int exponent) {
  const long double exact = std::ldexp(static_cast<long double>(x), exponent);
  const double d = static_cast<double>(exact);
  if (static_cast<long double>(d) != exact) return std::nullopt;
  return d;
}

std::vector<double> float32_parts(int64_t x, int exponent) {
  std::vector<double> parts;
  // Work on the magnitude in unsigned arithmetic so that INT64_MIN is no special case.
  const bool negative = x < 0;
  uint64_t rest = magnitude(x);
  while (rest != 0) {
    int top = 63;
    while (!(rest >> top)) --top;
    const int low = std::max(0, top - 23); // the 24 bits top..low
    const uint64_t chunk = rest >> low << low;
    rest -= chunk;
    const auto part = exact_float32(static_cast<int64_t>(chunk >> low), exponent + low);
    if (!part) return {};
    parts.push_back(negative ? -static_cast<double>(*part) : static_cast<double>(*part));
  }
  return parts;
}

} // namespace fxnn::onnx_export
