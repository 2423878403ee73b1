#pragma once
// The arithmetic of quantizing one element (docs/number-system.md eq. (7), (8)), shared by the kernels
// that quantize (quantize_kernels.cpp) and those that quantize on the way through a larger update
// (update_kernels.cpp), so that every kernel rounds, draws and saturates the same way.
// Internal to src/core: not part of the public headers.

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "fxnn/core/format.h"
#include "fxnn/core/rounding.h"
#include "multiversion.h"

namespace fxnn::quantize_element {

/// Everything a block kernel needs, precomputed once per call in the element type T.
template <typename T>
struct QuantizeParams {
  T scale;  // 2^frac: x * scale is exact (power of two), so rounding happens only in round()
  T step;   // 2^-frac
  T lo, hi; // code_min, code_max as T (hi rounded down to a representable value)
  Rounding rounding;
  uint64_t seed;
};

template <typename T>
T largest_not_above(int64_t code) {
  T value = static_cast<T>(code);
  if (static_cast<long double>(value) > static_cast<long double>(code)) value = std::nextafter(value, T(0));
  return value;
}

template <typename T>
T smallest_not_below(int64_t code) {
  T value = static_cast<T>(code);
  if (static_cast<long double>(value) < static_cast<long double>(code)) value = std::nextafter(value, T(0));
  return value;
}

template <typename T>
QuantizeParams<T> make_params(const Format& format, Rounding rounding, uint64_t seed) {
  if (format.auto_range)
    throw std::invalid_argument("quantize: format " + format.str() + " must be resolved (resolve_auto) first");
  return QuantizeParams<T>{static_cast<T>(std::ldexp(1.0, format.frac)),
                           static_cast<T>(std::ldexp(1.0, -format.frac)),
                           smallest_not_below<T>(format.code_min()),
                           largest_not_above<T>(format.code_max()),
                           rounding,
                           seed};
}

/// splitmix64 finalizer of (seed, index): a counter-based generator, eq. (7) of docs/number-system.md.
FXNN_ALWAYS_INLINE uint64_t mix(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// u in [0, 1) with 24 bits: exact in float and double.
template <typename T>
FXNN_ALWAYS_INLINE T uniform24(uint64_t seed, uint64_t index) {
  return static_cast<T>(mix(seed, index) >> 40) * static_cast<T>(1.0 / 16777216.0);
}

/// The rounded (not yet clamped) code of y = x * 2^frac. Written so that every operation is exact:
/// the fraction y - floor(y) is exact (Sterbenz), so the comparisons decide ties correctly.
template <typename T>
inline T round_scaled(T y, Rounding rounding, uint64_t seed, int64_t index) {
  const T f = std::floor(y);
  switch (rounding) {
    case Rounding::kNearest: return f + ((y - f) >= T(0.5) ? T(1) : T(0));
    case Rounding::kFloor: return f;
    case Rounding::kStochastic: return f + (uniform24<T>(seed, index) < (y - f) ? T(1) : T(0));
  }
  return f;
}

/// The clamped code of one element, branch-free so that the loops around it vectorize.
template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE T clamped_code(T x, int64_t index, const QuantizeParams<T>& p, int64_t& below, int64_t& above) {
  const T v = x * p.scale;
  const T f = std::floor(v);
  T q;
  if constexpr (kMode == Rounding::kNearest)
    q = f + ((v - f) >= T(0.5) ? T(1) : T(0));
  else if constexpr (kMode == Rounding::kFloor)
    q = f;
  else
    q = f + (uniform24<T>(p.seed, static_cast<uint64_t>(index)) < (v - f) ? T(1) : T(0));
  below += q < p.lo;
  above += q > p.hi;
  q = q < p.lo ? p.lo : q;
  return q > p.hi ? p.hi : q;
}

/// The clamped code of one element by the definition, one branch per case (the reference kernels).
template <typename T>
T reference_code(T x, const QuantizeParams<T>& p, int64_t index, int64_t& below, int64_t& above) {
  T q = round_scaled(x * p.scale, p.rounding, p.seed, index);
  if (q < p.lo) {
    q = p.lo;
    ++below;
  } else if (q > p.hi) {
    q = p.hi;
    ++above;
  }
  return q;
}

} // namespace fxnn::quantize_element
