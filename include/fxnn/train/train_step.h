#pragma once
// One training step and one evaluation pass: shared by the trainer and the benchmarks.

#include <torch/torch.h>

#include "fxnn/data/batch_loader.h"
#include "fxnn/nn/network.h"
#include "fxnn/optim/fixed_point_sgd.h"
#include "fxnn/train/training_observer.h"

namespace fxnn {

struct StepResult {
  double loss_sum = 0; // summed over the batch
  int64_t correct = 0;
  int64_t samples = 0;
};

/// forward, cross-entropy, backward, (observer->on_gradients), fixed-point update.
StepResult train_step(NetworkImpl& network, FixedPointSGD& optimizer, const data::Batch& batch,
                      TrainingObserver* observer = nullptr);

struct Evaluation {
  double loss = 0;     // mean cross-entropy
  double accuracy = 0; // fraction correct
};

/// The network in inference mode (batch norm running statistics, no dropout) over a whole loader epoch.
Evaluation evaluate(NetworkImpl& network, data::BatchLoader& loader);

} // namespace fxnn
