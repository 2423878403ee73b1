#pragma once
// Low-bit fine-tuning (docs/lowbit.md section 7): a float-trained network trained a few more epochs by
// the fixed-point engine with its weights and hidden activations on exactly the grids that the
// integer network will use, so that the converter starts from weights that already work
// on them. The grids are a precision plan; the run is an ordinary training run directory.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/config/experiment_config.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/deploy/lowbit_converter.h"
#include "fxnn/nn/precision_plan.h"
#include "fxnn/train/metrics.h"

namespace fxnn::lowbit {

struct FinetuneOptions {
  int64_t epochs = 0;           // 0: no fine-tuning
  double lr = 0.03;             // the learning rate; the last epoch (of two or more) takes a tenth of it
  double momentum = 0;          // SGD momentum (0: plain SGD, as the float runs)
  std::optional<uint64_t> seed; // the run's seed (initial order of the data, dropout); default: the float run's
  /// float-scale: the steps are learned in training (eq. (11) of docs/lowbit.md), starting from the
  /// converter's; otherwise they stay where the converter put them. Shift-clip steps are always fixed.
  bool learn_steps = false;
  std::string run_dir; // the fine-tuning run: config.yaml, plan.yaml, metrics.jsonl, checkpoint.pt
  bool resume = false; // continue the run in run_dir
  bool quiet = false;  // no progress line

  /// Throws std::invalid_argument naming the option: fewer than one epoch, a rate that is not positive, a
  /// momentum outside [0, 1).
  void validate() const;
};

/// Everything `finetune_lowbit` refuses, checked before any data is read: the options, per-channel
/// steps (a plan has one format per tensor) and a missing run directory.
void check_finetune(const LowbitOptions& conversion, const FinetuneOptions& options);

/// The fine-tuning run's config: the float run's, with batch norm folded away (`model.batch_norm`
/// false), each input channel's std rounded to 2^k / 255 (so that the first layer's input steps are
/// powers of two), no weight clipping, `epochs` epochs at the rate `lr` with `momentum`, the last one at lr / 10,
/// and `seed` when given.
ExperimentConfig finetune_config(const ExperimentConfig& float_config, const FinetuneOptions& options);

/// The layers of the float network re-expressed for `finetune_config`: batch norm folded (eq. (4)),
/// the first layer's weights scaled by std'_c / std_c for the new input normalization.
std::vector<FloatLayer> finetune_start(const std::vector<FloatLayer>& float_network,
                                       const ExperimentConfig& float_config, const ExperimentConfig& finetune);

/// Copies the weights and biases of `layers` into the network's layers of the same names (a network
/// without batch norm).
void load_layers(NetworkImpl& network, const std::vector<FloatLayer>& layers);

/// The grids as a plan: per layer W: s<B>.<F> for a fixed step 2^-F, else {format: s<B>.0, scale: step}
/// (with `learn: true` when `learned`), and the same for the hidden layers' A in u<B>; every other
/// tensor stays in float. `weight_bits` per layer.
PrecisionPlan grids_plan(const std::map<std::string, TrainedGrid>& grids, const std::map<std::string, int>& weight_bits,
                         int activation_bits, bool learned = false);

struct FinetunedNetwork {
  ExperimentConfig config;                  // of the fine-tuning run
  std::vector<FloatLayer> layers;           // the trained weights (on the grids), float biases
  std::map<std::string, TrainedGrid> grids; // what the converter must use (learned steps as trained)
  std::vector<EpochMetrics> metrics;        // every epoch of the run
};

/// Chooses the grids (the converter's steps for the start network in the conversion's mode), writes them as the
/// run's plan and trains. `float_network` are the float network's layers (float_layers()), `float_config` its
/// config. Throws what check_finetune throws.
FinetunedNetwork finetune_lowbit(const std::vector<FloatLayer>& float_network, const ExperimentConfig& float_config,
                                 const data::ImageDataset& train, const LowbitOptions& conversion,
                                 const FinetuneOptions& options);

} // namespace fxnn::lowbit
