#pragma once
// Hooks into a training run, for measurements taken while a network trains (the probe).

#include <string>

#include "fxnn/data/batch_loader.h"
#include "fxnn/nn/network.h"

namespace fxnn {

class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  /// Before the first step of an epoch, with that step's batch.
  virtual void on_epoch_start(int64_t /*epoch*/, NetworkImpl& /*network*/, const data::Batch& /*first_batch*/) {}
  /// After backward, before the optimizer update: the weights' .grad() hold dL/dW of the step.
  virtual void on_gradients(NetworkImpl& /*network*/) {}
  /// After the epoch's training steps (before evaluation).
  virtual void on_epoch_end(int64_t /*epoch*/, NetworkImpl& /*network*/) {}
  /// Saves/restores the observer's state with every checkpoint of the run directory, so that a
  /// resumed run continues the measurements exactly.
  virtual void save_state(const std::string& /*run_dir*/) const {}
  virtual void load_state(const std::string& /*run_dir*/) {}
};

} // namespace fxnn
