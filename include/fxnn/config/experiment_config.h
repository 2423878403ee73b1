#pragma once
// An experiment config: the YAML file that says what to train and how (docs/configs.md).

#include <string>
#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/nn/model_zoo.h"

namespace fxnn {

struct TrainOptions {
  int64_t epochs = 15;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 1000;
  /// LibTorch/OpenMP threads; 0 = one per hardware thread.
  int64_t threads = 0;
  /// Prepare the next batch on a background thread while the current one trains.
  bool prefetch = true;
  /// K: each step's batch is split into K micro-batches whose quantized weight gradients are summed
  /// (docs/distributed.md); a multiple of the number of processes. 1 = the plain step.
  int64_t micro_batches = 1;
};

struct OptimOptions {
  double lr = 0.05;
  /// Step schedule: lr is multiplied by lr_gamma at the start of each listed epoch (1-based).
  std::vector<int64_t> lr_milestones;
  double lr_gamma = 0.1;
  double momentum = 0.0;
  double weight_clip = 1.0;
  double weight_decay = 0.0;

  /// The learning rate of a (1-based) epoch.
  double lr_at(int64_t epoch) const;
  /// The smallest learning rate of epochs 1..epochs (gamma_min of the accumulator precision).
  double lr_min(int64_t epochs) const;
};

/// Parameters of the precision-assignment method (docs/precision-assignment.md).
struct PrecisionOptions {
  double target_pm = 0.01;     // mismatch-probability budget of eq. (1)
  int64_t noise_samples = 200; // N of the noise gains
  /// Draws of the noise-injection check of the back-propagated gains after the probe (0: no check).
  int64_t injection_draws = 32;
  /// Rounding of the G^(W) and G^(A) formats the assignment writes: nearest (the method) or stochastic.
  std::string gradient_rounding = "nearest";
};

/// More draws than this would only slow the probe: the check's relative error is sqrt(2 / draws).
constexpr int64_t kMaxInjectionDraws = 100000;

struct ExperimentConfig {
  std::string name = "experiment";
  uint64_t seed = 1;
  data::DataOptions data;
  data::TransformOptions transform;
  ModelOptions model;
  TrainOptions train;
  OptimOptions optim;
  PrecisionOptions precision;

  /// Reads a config file, applies `--set key.path=value` overrides (the value is parsed as YAML), and
  /// validates. Throws std::runtime_error naming the file and the key for an unknown key, a value of
  /// the wrong type or out of range, and a malformed override.
  static ExperimentConfig load(const std::string& path, const std::vector<std::string>& overrides = {});
  static ExperimentConfig parse(const std::string& yaml_text, const std::string& source,
                                const std::vector<std::string>& overrides = {});
  /// Every key with its value: what a run directory keeps as config.yaml.
  std::string to_yaml() const;
  /// The input shape and class count of the configured data set: known without reading anything for
  /// the named sets, read from the training files for the generic idx and folder sets.
  InputShape input_shape() const;
};

} // namespace fxnn
