#pragma once
// Checkpoints: everything needed to continue a run exactly where an epoch ended.

#include <string>

#include "fxnn/nn/network.h"
#include "fxnn/optim/fixed_point_sgd.h"

namespace fxnn {

/// Writes the network (parameters and buffers), the optimizer state (accumulators, velocities) and the
/// epoch, atomically to `path`. (Random streams are functions of the seed, epoch and step: nothing to save.)
void save_checkpoint(const std::string& path, int64_t epoch, const NetworkImpl& network,
                     const FixedPointSGD& optimizer);

/// Restores what save_checkpoint wrote and returns the epoch. Throws naming the file when it cannot be
/// read or does not fit the network.
int64_t load_checkpoint(const std::string& path, NetworkImpl& network, FixedPointSGD& optimizer);

/// Only the network's parameters and buffers (for export and evaluation of a finished run). Throws
/// naming the file and the tensor when a parameter or buffer holds NaN or infinity (a diverged run
/// or a damaged file): nothing sensible can be exported or evaluated from it.
int64_t load_network_weights(const std::string& path, NetworkImpl& network);

/// "" when every floating-point parameter and buffer is finite; else which tensors are not and how
/// many of their values (for messages).
std::string non_finite_tensors(const NetworkImpl& network);

} // namespace fxnn
