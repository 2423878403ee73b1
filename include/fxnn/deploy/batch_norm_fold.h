#pragma once
// The one batch-norm fold of fxnn (docs/architecture.md): a layer's bias and the batch norm after it
// in inference mode, folded into a per-channel affine map of its linear output z = W x, in float64.
// The export, the low-bit converter's float layers and the MLP import for synthesis all use it.

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "fxnn/nn/module_walk.h"

namespace fxnn {

/// y_c = scale_c z_c + shift_c: the layer's bias b and the batch norm (running statistics) that
/// follows it (eq. (4) of docs/lowbit.md and of docs/fixed-point-network.md), each coefficient
/// computed in float64 from the float32 parameters as
///   scale = gamma / sqrt(var + eps),   shift = (b - mean) scale + beta
/// (one rounding per operation, in this order). Without batch norm: scale 1, shift b.
struct ChannelAffine {
  std::vector<double> scale;
  std::vector<double> shift;
  bool is_identity_scale = true; // no batch norm: every scale is exactly 1
};

/// The affine map of a layer with `channels` outputs; `bias` may be undefined (no bias: 0).
ChannelAffine fold_batch_norm(int64_t channels, const torch::Tensor& bias,
                              const std::optional<BatchNormView>& batch_norm);

/// A weighted layer with its batch norm folded in, as float64 tensors: W' = W scale (per output
/// channel, one rounding per element) and b' = shift.
struct FoldedLayer {
  torch::Tensor weight; // float64 [O, I, k, k] or [O, I]
  torch::Tensor bias;   // float64 [O]
};

FoldedLayer fold_batch_norm(const WeightedLayer& layer);

} // namespace fxnn
