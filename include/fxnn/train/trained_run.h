#pragma once
// A finished (or interrupted) run read back: its resolved config, its plan and its trained network.

#include <optional>
#include <string>

#include "fxnn/config/experiment_config.h"
#include "fxnn/nn/network.h"
#include "fxnn/nn/precision_plan.h"

namespace fxnn {

struct TrainedRun {
  ExperimentConfig config;
  std::optional<PrecisionPlan> plan; // none: a float run
  Network network{nullptr};          // in eval mode
  int64_t epoch = 0;                 // the last finished epoch
};

/// DIR/config.yaml, DIR/plan.yaml (when present) and DIR/checkpoint.pt. Throws naming the file.
TrainedRun load_trained_run(const std::string& dir);

/// A checkpoint with the config and the plan given separately (`plan` empty: float).
TrainedRun load_trained_checkpoint(const std::string& checkpoint, const std::string& config, const std::string& plan);

} // namespace fxnn
