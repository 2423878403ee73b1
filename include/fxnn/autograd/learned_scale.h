#pragma once
// The gradient of a learned quantizer scale (learned step size, LSQ; docs/lowbit.md eq. (11)).

#include <torch/torch.h>

#include <cstdint>

#include "fxnn/core/quantizer_spec.h"

namespace fxnn {

/// dL/ds for Q_s(x) = s 2^-F clamp(round(r), q_min, q_max), r = x 2^F / s, given dL/dQ = grad:
/// the straight-through derivative dQ/ds = 2^-F (round(r) - r) inside [q_min, q_max] and
/// 2^-F q_min or 2^-F q_max where r is clipped, summed against grad and multiplied by the gradient
/// scale 1 / sqrt(per_sample q_max), which keeps the step of s in proportion to s.
double learned_scale_gradient(const torch::Tensor& x, const torch::Tensor& grad, const QuantizerSpec& spec,
                              int64_t per_sample);

/// The scale after one SGD step on it: s - lr dL/ds, kept within [s / 2, 2 s] so that a step never
/// reaches zero or flips the sign.
double learned_scale_step(double scale, double gradient, double lr);

} // namespace fxnn
