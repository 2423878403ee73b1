#include "fxnn/core/quantize_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_block_impl(const T* __restrict x, T* __restrict y, int64_t n, int64_t first,
                                                       const QuantizeParams<T>& p) {
  int64_t below = 0, above = 0;
  for (int64_t i = 0; i < n; ++i) y[i] = clamped_code<T, kMode>(x[i], first + i, p, below, above) * p.step;
  return SaturationCount{below, above};
}

/// The same in place: element i is read before it is written, so one pointer serves both (the
/// compiler vectorizes it without an aliasing check).
template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_inplace_block_impl(T* __restrict x, int64_t n, int64_t first,
                                                               const QuantizeParams<T>& params) {
  const QuantizeParams<T> p = params;
  int64_t below = 0, above = 0;
  for (int64_t i = 0; i < n; ++i) x[i] = clamped_code<T, kMode>(x[i], first + i, p, below, above) * p.step;
  return SaturationCount{below, above};
}

template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_any(const T* x, T* y, int64_t n, int64_t first,
                                                const QuantizeParams<T>& p) {
  if (x == y) return quantize_inplace_block_impl<T, kMode>(y, n, first, p);
  return quantize_block_impl<T, kMode>(x, y, n, first, p);
}

template <typename T>
FXNN_ALWAYS_INLINE SaturationCount quantize_block_dispatch(const T* x, T* y, int64_t n, int64_t first,
                                                           const QuantizeParams<T>& p) {
  switch (p.rounding) {
    case Rounding::kNearest: return quantize_any<T, Rounding::kNearest>(x, y, n, first, p);
    case Rounding::kFloor: return quantize_any<T, Rounding::kFloor>(x, y, n, first, p);
    case Rounding::kStochastic: return quantize_any<T, Rounding::kStochastic>(x, y, n, first, p);
  }
  return {};
}

template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_masked_block_impl(const T* __restrict g, const T* __restrict x,
                                                              T* __restrict out, int64_t n, int64_t first,
                                                              const QuantizeParams<T>& params, T mask_lo, T mask_hi) {
  const QuantizeParams<T> p = params; // a local copy: stores to out cannot change it, so it stays in registers
  int64_t below = 0, above = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T q = clamped_code<T, kMode>(g[i], first + i, p, below, above);
    out[i] = ((x[i] >= mask_lo) & (x[i] <= mask_hi)) ? q * p.step : T(0);
  }
  return SaturationCount{below, above};
}

/// The same with out == g: element i is read before it is written, so one pointer serves both.
template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_masked_inplace_block_impl(T* __restrict g, const T* __restrict x, int64_t n,
                                                                      int64_t first, const QuantizeParams<T>& params,
                                                                      T mask_lo, T mask_hi) {
  const QuantizeParams<T> p = params;
  int64_t below = 0, above = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T q = clamped_code<T, kMode>(g[i], first + i, p, below, above);
    g[i] = ((x[i] >= mask_lo) & (x[i] <= mask_hi)) ? q * p.step : T(0);
  }
  return SaturationCount{below, above};
}

template <typename T, Rounding kMode>
FXNN_ALWAYS_INLINE SaturationCount quantize_masked_any(const T* g, const T* x, T* out, int64_t n, int64_t first,
                                                       const QuantizeParams<T>& p, T lo, T hi) {
  if (out == g) return quantize_masked_inplace_block_impl<T, kMode>(out, x, n, first, p, lo, hi);
  return quantize_masked_block_impl<T, kMode>(g, x, out, n, first, p, lo, hi);
}

template <typename T>
FXNN_ALWAYS_INLINE SaturationCount quantize_masked_dispatch(const T* g, const T* x, T* out, int64_t n, int64_t first,
                                                            const QuantizeParams<T>& p, T lo, T hi) {
  switch (p.rounding) {
    case Rounding::kNearest: return quantize_masked_any<T, Rounding::kNearest>(g, x, out, n, first, p, lo, hi);
    case Rounding::kFloor: return quantize_masked_any<T, Rounding::kFloor>(g, x, out, n, first, p, lo, hi);
    case Rounding::kStochastic: return quantize_masked_any<T, Rounding::kStochastic>(g, x, out, n, first, p, lo, hi);
  }
  return {};
}

FXNN_MULTIVERSION
SaturationCount quantize_masked_block_f32(const float* g, const float* x, float* out, int64_t n, int64_t first,
                                          const QuantizeParams<float>& p, float lo, float hi) {
  return quantize_masked_dispatch<float>(g, x, out, n, first, p, lo, hi);
}

FXNN_MULTIVERSION
SaturationCount quantize_masked_block_f64(const double* g, const double* x, double* out, int64_t n, int64_t first,
                                          const QuantizeParams<double>& p, double lo, double hi) {
  return quantize_masked_dispatch<double>(g, x, out, n, first, p, lo, hi);
}

inline SaturationCount masked_block_kernel(const float* g, const float* x, float* out, int64_t n, int64_t first,
                                           const QuantizeParams<float>& p, float lo, float hi) {
  return quantize_masked_block_f32(g, x, out, n, first, p, lo, hi);
}
inline SaturationCount masked_block_kernel(const double* g, const double* x, double* out, int64_t n, int64_t first,
                                           const QuantizeParams<double>& p, double lo, double hi) {
  return quantize_masked_block_f64(g, x, out, n, first, p, lo, hi);
}

FXNN_MULTIVERSION
SaturationCount quantize_block_f32(const float* x, float* y, int64_t n, int64_t first, const QuantizeParams<float>& p) {
  return quantize_block_dispatch<float>(x, y, n, first, p);
}

FXNN_MULTIVERSION
SaturationCount quantize_block_f64(const double* x, double* y, int64_t n, int64_t first,
                                   const QuantizeParams<double>& p) {
  return quantize_block_dispatch<double>(x, y, n, first, p);
}

inline SaturationCount block_kernel(const float* x, float* y, int64_t n, int64_t first,
                                    const QuantizeParams<float>& p) {
  return quantize_block_f32(x, y, n, first, p);
}
inline SaturationCount block_kernel(const double* x, double* y, int64_t n, int64_t first,
                                    const QuantizeParams<double>& p) {
  return quantize_block_f64(x, y, n, first, p);
}

// max|x| over the IEEE bit patterns with the sign bit cleared: for non-negative floats the integer
// order is the numeric order, every NaN pattern lies above +Inf, and an unsigned integer max
// reduction vectorizes (a float max does not, without giving up NaN semantics).
template <typename T, typename Bits>
inline T max_abs_bits(const T* __restrict x, int64_t n) {
  static_assert(sizeof(T) == sizeof(Bits), "bit pattern of the same width");
  constexpr Bits kMagnitude = ~Bits{0} >> 1;
  Bits m = 0;
  for (int64_t i = 0; i < n; ++i) {
    Bits bits;
    std::memcpy(&bits, &x[i], sizeof bits);
    bits &= kMagnitude;
    m = bits > m ? bits : m;
  }
  T result;
  std::memcpy(&result, &m, sizeof result);
  return std::isnan(result) ? std::numeric_limits<T>::quiet_NaN() : result;
}

FXNN_MULTIVERSION
float max_abs_block_f32(const float* x, int64_t n) { return max_abs_bits<float, uint32_t>(x, n); }

FXNN_MULTIVERSION
double max_abs_block_f64(const double* x, int64_t n) { return max_abs_bits<double, uint64_t>(x, n); }

inline float max_abs_block(const float* x, int64_t n) { return max_abs_block_f32(x, n); }
inline double max_abs_block(const double* x, int64_t n) { return max_abs_block_f64(x, n); }

/// max that lets NaN win, so a NaN anywhere is reported rather than hidden.
template <typename T>
inline T nan_max(T a, T b) {
  if (a != a || b != b) return std::numeric_limits<T>::quiet_NaN();
  return a > b ? a : b;
}

} // namespace

double stochastic_uniform(uint64_t seed, int64_t index) {
  return uniform24<double>(seed, static_cast<uint64_t>(index));
}

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
SaturationCount quantize_masked_reference(const T* g, const T* x, T* out, int64_t n, const Format& format,
                                          Rounding rounding, uint64_t seed, T lo, T hi) {
  const auto p = make_params<T>(format, rounding, seed);
  SaturationCount count;
  for (int64_t i = 0; i < n; ++i) {
    T q = round_scaled(g[i] * p.scale, p.rounding, p.seed, i);
    if (q < p.lo) {
      q = p.lo;
      ++count.below;
    } else if (q > p.hi) {
      q = p.hi;
      ++count.above;
    }
    out[i] = (x[i] >= lo && x[i] <= hi) ? q * p.step : T(0);
  }
  return count;
}

template <typename T>
SaturationCount quantize_masked(const T* g, const T* x, T* out, int64_t n, const Format& format, Rounding rounding,
                                uint64_t seed, T lo, T hi) {
  const auto p = make_params<T>(format, rounding, seed);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t below = 0, above = 0;
#pragma omp parallel for schedule(static) reduction(+ : below, above) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock;
    const auto count =
        masked_block_kernel(g + first, x + first, out + first, std::min(kBlock, n - first), first, p, lo, hi);
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

#define FXNN_INSTANTIATE(T)                                                                                          \
  template SaturationCount quantize_reference<T>(const T*, T*, int64_t, const Format&, Rounding, uint64_t);          \
  template SaturationCount quantize<T>(const T*, T*, int64_t, const Format&, Rounding, uint64_t);                    \
  template SaturationCount quantize_to_codes<T>(const T*, int64_t*, int64_t, const Format&, Rounding, uint64_t);     \
  template void codes_to_values<T>(const int64_t*, T*, int64_t, const Format&);                                      \
  template T max_abs_reference<T>(const T*, int64_t);                                                                \
  template SaturationCount quantize_masked_reference<T>(const T*, const T*, T*, int64_t, const Format&, Rounding,    \
                                                        uint64_t, T, T);                                             \
  template SaturationCount quantize_masked<T>(const T*, const T*, T*, int64_t, const Format&, Rounding, uint64_t, T, \
                                              T);                                                                    \
  template T max_abs<T>(const T*, int64_t);
FXNN_INSTANTIATE(float)
FXNN_INSTANTIATE(double)
#undef FXNN_INSTANTIATE

} // namespace fxnn
