#pragma once
// Quantization kernels on raw arrays (no LibTorch). Kernels come in pairs: a plain-loop reference and
// a fused optimized kernel (OpenMP across blocks, vectorized within a block) that must agree bit for bit.

#include <cstdint>

#include "fxnn/core/format.h"
#include "fxnn/core/rounding.h"

namespace fxnn {

/// How many inputs fell outside the format's range and were saturated, per side.
struct SaturationCount {
  int64_t below = 0; // rounded code < code_min, clamped up to min
  int64_t above = 0; // rounded code > code_max, clamped down to max
  int64_t total() const { return below + above; }
  SaturationCount& operator+=(const SaturationCount& o) {
    below += o.below;
    above += o.above;
    return *this;
  }
};

/// y[i] = step * clamp(round(x[i] / step), code_min, code_max)    (docs/number-system.md eq. (8))
/// Rounding per `rounding`; saturates at both ends; NaN propagates. For kStochastic the uniform draw of
/// element i is hash(seed, i), so the result does not depend on the thread count. y may alias x.
/// Valid for any concrete (not auto) format with bits <= 62; for float a format wider than 24 bits
/// saturates at the largest float not above max().
template <typename T>
SaturationCount quantize_reference(const T* x, T* y, int64_t n, const Format& format, Rounding rounding, uint64_t seed);
template <typename T>
SaturationCount quantize(const T* x, T* y, int64_t n, const Format& format, Rounding rounding, uint64_t seed);

/// The backward pass of a quantized activation in one pass (docs/fixed-point-training.md eq. (4)):
///   out[i] = (lo <= x[i] <= hi) ? Q(g[i]) : 0
/// Q is eq. (8) on the gradient g; saturation is counted over every element of g, masked or not, so
/// the counts equal those of quantize() on g. x is the saved forward input. out may alias g.
template <typename T>
SaturationCount quantize_masked_reference(const T* g, const T* x, T* out, int64_t n, const Format& format,
                                          Rounding rounding, uint64_t seed, T lo, T hi);
template <typename T>
SaturationCount quantize_masked(const T* g, const T* x, T* out, int64_t n, const Format& format, Rounding rounding,
                                uint64_t seed, T lo, T hi);

/// codes[i] = clamp(round(x[i] / step)): the integer codes of the same quantization as above.
template <typename T>
SaturationCount quantize_to_codes(const T* x, int64_t* codes, int64_t n, const Format& format, Rounding rounding,
                                  uint64_t seed);
/// y[i] = codes[i] * step (exact when the product is representable in T).
template <typename T>
void codes_to_values(const int64_t* codes, T* y, int64_t n, const Format& format);

/// max_i |x[i]| (NaN if any element is NaN); 0 for n == 0.
template <typename T>
T max_abs_reference(const T* x, int64_t n);
template <typename T>
T max_abs(const T* x, int64_t n);

/// The uniform draw u in [0, 1) of stochastic rounding for element `index` (24-bit resolution, eq. (7)).
double stochastic_uniform(uint64_t seed, int64_t index);

} // namespace fxnn
