#pragma once
// The backward pass of a saturating quantizer: the straight-through estimator restricted to the
// clipping range (docs/fixed-point-training.md eq. (2)).

#include <cstdint>

namespace fxnn {

/// out[i] = (lo <= x[i] <= hi) ? grad[i] : 0. No rounding; NaN in x gives 0. out may alias grad.
template <typename T>
void straight_through_reference(const T* x, const T* grad, T* out, int64_t n, T lo, T hi);
template <typename T>
void straight_through(const T* x, const T* grad, T* out, int64_t n, T lo, T hi);

} // namespace fxnn
