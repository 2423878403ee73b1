#pragma once
// The fixed-point network evaluated with LibTorch tensor operations: the simulation that the integer
// runtime and the numpy program must match bit for bit (docs/fixed-point-network.md).

#include <torch/torch.h>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn {

/// Output codes (int64 [N, ...]) of the network for input codes (any integer dtype, [N, ...input_shape]).
/// Convolutions and matrix products run in float64 on integer values, exact while every partial sum
/// stays below 2^53 (checked from the accumulator widths); requantization runs in int64.
torch::Tensor simulate_network(const ir::Network& network, const torch::Tensor& input_codes);

/// Integer codes of raw uint8 images, as the network input takes them (u8.0).
torch::Tensor image_codes(const torch::Tensor& images);

} // namespace fxnn
