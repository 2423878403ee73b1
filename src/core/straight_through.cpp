#include "fxnn/core/straight_through.h"

#include <algorithm>

#include "multiversion.h"

namespace fxnn {

namespace {

constexpr int64_t kBlock = 65536; // as in quantize_kernels.cpp: 256 KiB of float per unit of work

template <typename T>
FXNN_ALWAYS_INLINE void straight_through_block(const T* x, const T* grad, T* out, int64_t n, T lo, T hi) {
  // Not __restrict: out may alias grad, which is safe element by element.
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] >= lo && x[i] <= hi) ? grad[i] : T(0);
}

FXNN_MULTIVERSION void block_f32(const float* x, const float* g, float* o, int64_t n, float lo, float hi) {
  straight_through_block(x, g, o, n, lo, hi);
}
FXNN_MULTIVERSION void block_f64(const double* x, const double* g, double* o, int64_t n, double lo, double hi) {
  straight_through_block(x, g, o, n, lo, hi);
}
inline void block(const float* x, const float* g, float* o, int64_t n, float lo, float hi) {
  block_f32(x, g, o, n, lo, hi);
}
inline void block(const double* x, const double* g, double* o, int64_t n, double lo, double hi) {
  block_f64(x, g, o, n, lo, hi);
}

} // namespace

template <typename T>
void straight_through_reference(const T* x, const T* grad, T* out, int64_t n, T lo, T hi) {
  for (int64_t i = 0; i < n; ++i) {
    const bool inside = x[i] >= lo && x[i] <= hi;
    out[i] = inside ? grad[i] : T(0);
  }
}

template <typename T>
void straight_through(const T* x, const T* grad, T* out, int64_t n, T lo, T hi) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock;
    block(x + first, grad + first, out + first, std::min(kBlock, n - first), lo, hi);
  }
}

template void straight_through_reference<float>(const float*, const float*, float*, int64_t, float, float);
template void straight_through_reference<double>(const double*, const double*, double*, int64_t, double, double);
template void straight_through<float>(const float*, const float*, float*, int64_t, float, float);
template void straight_through<double>(const double*, const double*, double*, int64_t, double, double);

} // namespace fxnn
