#pragma once
// From a trained fixed-point network (LibTorch modules with a precision plan) to the fixed-point
// network artifact (docs/fixed-point-network.md section 4).

#include "fxnn/config/experiment_config.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/nn/model_zoo.h"
#include "fxnn/nn/network.h"

namespace fxnn {

struct ExportOptions {
  /// Word length of the normalized network input (the first rescale node); raw pixels are u8.0.
  int input_bits = 12;
  /// Word length of the batch-norm multipliers (signed): relative precision 2^-(bits-1).
  int multiplier_bits = 16;
  /// Extra fractional bits of a residual branch before the addition, beyond the block output's.
  int residual_extra_bits = 8;
};

/// The network in inference mode (batch norm running statistics, no dropout) as integer nodes.
/// Weights are Q_W of the layer weights (already on the grid after fixed-point training); batch norm
/// and biases are folded into per-channel multipliers and offsets (eq. (4)); every hidden activation
/// must have a format in the plan. Throws std::runtime_error naming the layer that cannot be exported.
ir::Network export_network(NetworkImpl& network, const ExperimentConfig& config, const InputShape& input,
                           const ExportOptions& options = {});

} // namespace fxnn
