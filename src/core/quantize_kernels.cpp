#include "fxnn/core/quantize_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "multiversion.h"

namespace fxnn {

namespace {

// Blocks of this many elements are the unit of parallel work: large enough to amortize the OpenMP
// fork, small enough (256 KiB of float) to balance two to a few dozen threads.
constexpr int64_t kBlock = 65536;

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
  if (static_cast<long double>(value) > static_cast<long double>(code))
    value = std::nextafter(value, T(0));
  return value;
}

template <typename T>
T smallest_not_below(int64_t code) {
  T value = static_cast<T>(code);
  if (static_cast<long double>(value) < static_cast<long double>(code))
    value = std::nextafter(value, T(0));
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
inline uint64_t mix(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// u in [0, 1) with 24 bits: exact in float and double.
template <typename T>
inline T uniform24(uint64_t seed, uint64_t index) {
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

// ---- reference kernels: one element at a time, no tricks ----

template <typename T, typename Out, typename Emit>
SaturationCount quantize_loop_reference(const T* x, Out* out, int64_t n, const QuantizeParams<T>& p, Emit emit) {
  SaturationCount count;
  for (int64_t i = 0; i < n; ++i) {
    T q = round_scaled(x[i] * p.scale, p.rounding, p.seed, i);
    if (q < p.lo) {
      q = p.lo;
      ++count.below;
    } else if (q > p.hi) {
      q = p.hi;
      ++count.above;
    }
    out[i] = emit(q);
  }
  return count;
}

// ---- optimized block kernels: branch-free bodies the compiler vectorizes ----

template <typename T, Rounding kMode>
inline SaturationCount quantize_block_impl(const T* __restrict x, T* __restrict y, int64_t n, int64_t first,
                                           const QuantizeParams<T>& p) {
  int64_t below = 0, above = 0;
  const T scale = p.scale, step = p.step, lo = p.lo, hi = p.hi;
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i] * scale;
    const T f = std::floor(v);
    T q;
    if constexpr (kMode == Rounding::kNearest) q = f + ((v - f) >= T(0.5) ? T(1) : T(0));
    else if constexpr (kMode == Rounding::kFloor) q = f;
    else q = f + (uniform24<T>(p.seed, first + i) < (v - f) ? T(1) : T(0));
    below += q < lo;
    above += q > hi;
    q = q < lo ? lo : q;
    q = q > hi ? hi : q;
    y[i] = q * step;
  }
  return SaturationCount{below, above};
}

template <typename T>
inline SaturationCount quantize_block_dispatch(const T* x, T* y, int64_t n, int64_t first, const QuantizeParams<T>& p) {
  switch (p.rounding) {
    case Rounding::kNearest: return quantize_block_impl<T, Rounding::kNearest>(x, y, n, first, p);
    case Rounding::kFloor: return quantize_block_impl<T, Rounding::kFloor>(x, y, n, first, p);
    case Rounding::kStochastic: return quantize_block_impl<T, Rounding::kStochastic>(x, y, n, first, p);
  }
  return {};
}

// In-place calls (y == x) are legal in the public API, but the block bodies are __restrict: an
// in-place block is therefore processed through a small stack buffer.
FXNN_MULTIVERSION
SaturationCount quantize_block_f32(const float* x, float* y, int64_t n, int64_t first, const QuantizeParams<float>& p) {
  if (x != y) return quantize_block_dispatch<float>(x, y, n, first, p);
  constexpr int64_t kChunk = 1024;
  alignas(64) float buffer[kChunk];
  SaturationCount count;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = std::min(kChunk, n - i);
    count += quantize_block_dispatch<float>(x + i, buffer, m, first + i, p);
    std::copy(buffer, buffer + m, y + i);
  }
  return count;
}

FXNN_MULTIVERSION
SaturationCount quantize_block_f64(const double* x, double* y, int64_t n, int64_t first, const QuantizeParams<double>& p) {
  if (x != y) return quantize_block_dispatch<double>(x, y, n, first, p);
  constexpr int64_t kChunk = 512;
  alignas(64) double buffer[kChunk];
  SaturationCount count;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t m = std::min(kChunk, n - i);
    count += quantize_block_dispatch<double>(x + i, buffer, m, first + i, p);
    std::copy(buffer, buffer + m, y + i);
  }
  return count;
}

inline SaturationCount block_kernel(const float* x, float* y, int64_t n, int64_t first, const QuantizeParams<float>& p) {
  return quantize_block_f32(x, y, n, first, p);
}
inline SaturationCount block_kernel(const double* x, double* y, int64_t n, int64_t first, const QuantizeParams<double>& p) {
  return quantize_block_f64(x, y, n, first, p);
}

FXNN_MULTIVERSION
float max_abs_block_f32(const float* __restrict x, int64_t n) {
  float m = 0;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    nan |= a != a;
    m = a > m ? a : m;
  }
  return nan ? std::numeric_limits<float>::quiet_NaN() : m;
}

FXNN_MULTIVERSION
double max_abs_block_f64(const double* __restrict x, int64_t n) {
  double m = 0;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::fabs(x[i]);
    nan |= a != a;
    m = a > m ? a : m;
  }
  return nan ? std::numeric_limits<double>::quiet_NaN() : m;
}

inline float max_abs_block(const float* x, int64_t n) { return max_abs_block_f32(x, n); }
inline double max_abs_block(const double* x, int64_t n) { return max_abs_block_f64(x, n); }

/// max that lets NaN win, so a NaN anywhere is reported rather than hidden.
template <typename T>
inline T nan_max(T a, T b) {
  if (a != a || b != b) return std::numeric_limits<T>::quiet_NaN();
  return a > b ? a : b;
}

} // namespace

double stochastic_uniform(uint64_t seed, int64_t index) { return uniform24<double>(seed, static_cast<uint64_t>(index)); }

template <typename T>
SaturationCount quantize_reference(const T* x, T* y, int64_t n, const Format& format, Rounding rounding,
                                   uint64_t seed) {
  const auto p = make_params<T>(format, rounding, seed);
  return quantize_loop_reference(x, y, n, p, [&](T q) { return q * p.step; });
}

template <typename T>
SaturationCount quantize(const T* x, T* y, int64_t n, const Format& format, Rounding rounding, uint64_t seed) {
  const auto p = make_params<T>(format, rounding, seed);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return block_kernel(x, y, n, 0, p);
  int64_t below = 0, above = 0;
#pragma omp parallel for schedule(static) reduction(+ : below, above)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock;
    const auto count = block_kernel(x + first, y + first, std::min(kBlock, n - first), first, p);
    below += count.below;
    above += count.above;
  }
  return SaturationCount{below, above};
}

template <typename T>
SaturationCount quantize_to_codes(const T* x, int64_t* codes, int64_t n, const Format& format, Rounding rounding,
                                  uint64_t seed) {
  const auto p = make_params<T>(format, rounding, seed);
  return quantize_loop_reference(x, codes, n, p, [](T q) { return static_cast<int64_t>(q); });
}

template <typename T>
void codes_to_values(const int64_t* codes, T* y, int64_t n, const Format& format) {
  const T step = static_cast<T>(format.step());
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(codes[i]) * step;
}

template <typename T>
T max_abs_reference(const T* x, int64_t n) {
  T m = 0;
  for (int64_t i = 0; i < n; ++i) m = nan_max(m, static_cast<T>(std::fabs(x[i])));
  return m;
}

template <typename T>
T max_abs(const T* x, int64_t n) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (blocks <= 1) return max_abs_block(x, n);
  T m = 0;
#pragma omp parallel
  {
    T local = 0;
#pragma omp for schedule(static)
    for (int64_t b = 0; b < blocks; ++b)
      local = nan_max(local, max_abs_block(x + b * kBlock, std::min(kBlock, n - b * kBlock)));
#pragma omp critical
    m = nan_max(m, local);
  }
  return m;
}

#define FXNN_INSTANTIATE(T)                                                                                     \
  template SaturationCount quantize_reference<T>(const T*, T*, int64_t, const Format&, Rounding, uint64_t);    \
  template SaturationCount quantize<T>(const T*, T*, int64_t, const Format&, Rounding, uint64_t);              \
  template SaturationCount quantize_to_codes<T>(const T*, int64_t*, int64_t, const Format&, Rounding, uint64_t); \
  template void codes_to_values<T>(const int64_t*, T*, int64_t, const Format&);                                \
  template T max_abs_reference<T>(const T*, int64_t);                                                          \
  template T max_abs<T>(const T*, int64_t);
FXNN_INSTANTIATE(float)
FXNN_INSTANTIATE(double)
#undef FXNN_INSTANTIATE

} // namespace fxnn
