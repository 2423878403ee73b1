#pragma once
// The float-trained network the low-bit converter starts from.

#include <string>

#include "fxnn/train/trained_run.h"

namespace fxnn::lowbit {

/// `checkpoint` loaded into the network of `config` built without a precision plan (eval mode).
/// Throws std::runtime_error naming the file when it is missing, is not a checkpoint of that network,
/// or comes from a fixed-point run: a plan.yaml beside it, or fixed-point weight accumulators in its
/// optimizer state (the converter takes float weights; `fxnn export` takes fixed-point runs).
TrainedRun load_float_checkpoint(const std::string& checkpoint, const std::string& config);

} // namespace fxnn::lowbit
