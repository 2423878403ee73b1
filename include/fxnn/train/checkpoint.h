#pragma once
// Checkpoints: everything needed to continue a run exactly where an epoch ended, and what it takes to
// be sure a checkpoint belongs to the run that resumes from it (docs/crash-safety.md).

#include <optional>
#include <string>

#include "fxnn/nn/network.h"
#include "fxnn/optim/fixed_point_sgd.h"

namespace fxnn {

/// What a checkpoint must agree with to be resumed: the run's config as resume compares it (without
/// threads and epochs) and its precision plan ("" for a float run).
struct RunIdentity {
  std::string config;
  std::string plan;
};

/// Writes the network (parameters and buffers), the optimizer state (accumulators, velocities), the
/// epoch, the run's identity and a CRC-32 of all of them, atomically to `path`. (Random streams are
/// functions of the seed, epoch and step: nothing to save.)
void save_checkpoint(const std::string& path, int64_t epoch, const NetworkImpl& network, const FixedPointSGD& optimizer,
                     const RunIdentity& identity);

struct LoadedCheckpoint {
  int64_t epoch = 0;
  std::optional<RunIdentity> identity; // none in a checkpoint written before identities existed
};

/// Restores what save_checkpoint wrote, for resuming. Throws std::runtime_error naming the file, before
/// the caller writes anything, when the file cannot be read, a tensor's shape is not the config's
/// network's, the optimizer state is not this run's kind (a float checkpoint in a fixed-point run, or
/// the reverse), the epoch is below 1, or the checksum does not match (flipped bytes). The caller
/// compares the identity with its run's.
LoadedCheckpoint load_checkpoint(const std::string& path, NetworkImpl& network, FixedPointSGD& optimizer);

/// Only the network's parameters and buffers (for export and evaluation of a finished run), with the
/// same shape check. Throws naming the file and the tensor when a parameter or buffer holds NaN or
/// infinity (a diverged run or a damaged file): nothing sensible can be exported or evaluated from it.
int64_t load_network_weights(const std::string& path, NetworkImpl& network);

/// "" when every floating-point parameter and buffer is finite; else which tensors are not and how
/// many of their values (for messages).
std::string non_finite_tensors(const NetworkImpl& network);

} // namespace fxnn
