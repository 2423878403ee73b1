#pragma once
// One training step as K micro-batches spread over the processes of a run (docs/distributed.md).

#include <torch/torch.h>

#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/nn/network.h"
#include "fxnn/optim/fixed_point_sgd.h"
#include "fxnn/train/communicator.h"
#include "fxnn/train/train_step.h"
#include "fxnn/train/training_observer.h"

namespace fxnn {

/// The global batch of a step is split into K micro-batches (sizes as equal as possible, the first
/// ones one larger); rank r computes micro-batches [r K/N, (r+1) K/N). Per micro-batch k:
///  - its dropout and stochastic-rounding streams are functions of (seed, epoch, step, k);
///  - batch norm normalizes with the micro-batch's own statistics, starting from the step's running
///    statistics R0 and giving R_k;
///  - dL/dW (of the loss summed over the micro-batch divided by the global batch size) is quantized to
///    integer codes of the G^(W) format (an auto range is the maximum over all micro-batches).
/// Then the codes are summed over micro-batches and ranks (integer all-reduce: exact, order-free),
/// G^(W) = sum * step; float gradients (biases, batch norm, float weights of a float run) and the
/// running statistics (mean of the R_k) are gathered and combined in micro-batch order. So for a fixed
/// seed, K and thread count, 1, 2 or 4 processes compute bitwise the same step. With K = 1 and one
/// process this is exactly the plain step (train_step).
class DataParallelStep {
 public:
  DataParallelStep(NetworkImpl& network, FixedPointSGD& optimizer, Communicator& communicator, int64_t micro_batches,
                   uint64_t seed);

  /// Trains on the global batch; returns this rank's share of the loss sum, correct count and samples.
  StepResult run(const data::Batch& batch, int64_t epoch, int64_t step, TrainingObserver* observer = nullptr);

  /// Bytes of weight gradients this rank sent in the last step (the communication cost of the spec).
  int64_t gradient_bytes() const { return gradient_bytes_; }

 private:
  struct MicroBatch {
    std::vector<torch::Tensor> weight_gradients; // per weight tensor
    std::vector<torch::Tensor> float_gradients;  // per float parameter (zeros when unused)
    std::vector<torch::Tensor> buffers;          // batch-norm running statistics after the micro-batch
  };

  MicroBatch compute(const data::Batch& batch, int64_t begin, int64_t end, uint64_t stream, StepResult& result);
  void exchange_weight_gradients(const std::vector<MicroBatch>& mine, uint64_t step_stream);
  void exchange_float_gradients(const std::vector<MicroBatch>& mine);
  void exchange_buffers(const std::vector<MicroBatch>& mine);

  NetworkImpl& network_;
  FixedPointSGD& optimizer_;
  Communicator& communicator_;
  int64_t micro_batches_;
  uint64_t seed_;
  std::vector<WeightQuantization> weights_;
  std::vector<torch::Tensor> float_parameters_;
  std::vector<torch::Tensor> buffers_; // running statistics (floating point buffers)
  int64_t gradient_bytes_ = 0;
};

} // namespace fxnn
