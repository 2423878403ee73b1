#include "fxnn/core/quantize_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "multiversion.h"
#include "quantize_element.h"

namespace fxnn {

namespace {

using namespace quantize_element;

// Blocks of this many elements are the unit of parallel work: large enough to amortize the OpenMP
// fork, small enough (256 KiB of float) to balance two to a few dozen threads.
constexpr int64_t kBlock = 65536;

// ---- reference kernels: one element at a time, no tricks ----

template <typename T, typename Out, typename Emit>
SaturationCount quantize_loop_reference(const T* x, Out* out, int64_t n, const QuantizeParams<T>& p, Emit emit) {
  SaturationCount count;
  for (int64_t i = 0; i < n; ++i) out[i] = emit(reference_code(x[i], p, i, count.below, count.above));
  return count;
}

// ---- optimized block kernels: branch-free bodies the compiler vectorizes ----

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
    const T q = reference_code(g[i], p, i, count.below, count.above);
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
