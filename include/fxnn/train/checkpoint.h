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

/// Only the network's parameters and buffers (for export and evaluation of a finished run).
int64_t load_network_weights(const std::string& path, NetworkImpl& network);

} // namespace fxnn
