#pragma once
// The custom autograd functions of fixed-point training (docs/fixed-point-training.md section 2).

#include <torch/torch.h>

#include "fxnn/nn/quant_point.h"

namespace fxnn {

/// Forward: Q(x) with the point's format. Backward: the straight-through estimator restricted to the
/// clipping range, dL/dx = dL/dy * 1[min <= x <= max] (eq. (2)): inputs that saturated get no gradient.
/// A point without a spec is the identity in both directions.
torch::Tensor quantize_forward(const torch::Tensor& x, const QuantPointPtr& point);

/// Forward: the identity. Backward: dL/dx = Q(dL/dy), the activation-gradient quantizer G^(A) (eq. (3)).
/// A point without a spec is the identity, but still reports to its observer when it has one.
torch::Tensor quantize_gradient(const torch::Tensor& x, const QuantPointPtr& point);

/// quantize_gradient(quantize_forward(x, activation), gradient) with a single-pass backward:
/// dL/dx = 1[min_A <= x <= max_A] * Q_GA(dL/dy) (docs/fixed-point-training.md eq. (4)). Values,
/// gradients and saturation counts equal those of the composition; falls back to it when either
/// point is float.
torch::Tensor quantize_activation(const torch::Tensor& x, const QuantPointPtr& activation,
                                  const QuantPointPtr& gradient);

} // namespace fxnn
