#pragma once
// Training runs: float (no plan) or fixed point (with a precision plan), into a run directory.
//
// A run directory holds: config.yaml (the resolved config), plan.yaml (the plan, FX runs only),
// metrics.jsonl (one line per epoch), checkpoint.pt (the last finished epoch). Every file is written
// atomically, so a killed run leaves the directory consistent and --resume continues it.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/config/experiment_config.h"
#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/io/directory_lock.h"
#include "fxnn/nn/network.h"
#include "fxnn/nn/precision_plan.h"
#include "fxnn/optim/fixed_point_sgd.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/communicator.h"
#include "fxnn/train/data_parallel_step.h"
#include "fxnn/train/metrics.h"
#include "fxnn/train/training_observer.h"

namespace fxnn {

struct TrainerOptions {
  ExperimentConfig config;
  std::optional<PrecisionPlan> plan; // none: float training
  std::string out_dir;
  bool resume = false; // continue from out_dir/checkpoint.pt when present
  bool quiet = false;  // no progress line
  /// Stop (with a checkpoint) after finishing this epoch; 0 = run all epochs. For time-boxed sessions:
  /// a later --resume continues exactly where this one stopped.
  int64_t stop_after_epoch = 0;
  /// The processes of a data-parallel run (docs/distributed.md); one process by default. Only rank 0
  /// reads or writes the run directory.
  DistributedOptions distributed;
  /// Sets the starting weights of the freshly built network (a fine-tuning run starts from a trained
  /// one, `fxnn lowbit --finetune`); none: the seeded initialization. A resumed run then loads its
  /// checkpoint over them.
  std::function<void(NetworkImpl&)> initialize;
};

/// Builds the network of a config (for its data set's input shape), seeded by config.seed, with the
/// plan applied (float when none) and the per-point stochastic-rounding seeds set.
Network build_network(const ExperimentConfig& config, const std::optional<PrecisionPlan>& plan);

/// What a checkpoint of a run records to be recognised on resume: the config as resume compares it and
/// the plan's text ("" in float).
RunIdentity run_identity(const ExperimentConfig& config, const std::optional<PrecisionPlan>& plan);

/// The optimizer of a config for a network, accumulators initialized from its weights.
std::unique_ptr<FixedPointSGD> build_optimizer(const ExperimentConfig& config, NetworkImpl& network);

class Trainer {
 public:
  /// Loads the data, builds the network and checks the run directory: everything that can fail on
  /// bad input fails here, before any file is written.
  explicit Trainer(TrainerOptions options);
  /// Trains the remaining epochs; returns the metrics of all epochs of the run.
  std::vector<EpochMetrics> run();
  /// Measurements to take during training (not owned). When the run was resumed, the observer's
  /// state is restored from the run directory first.
  void set_observer(TrainingObserver* observer);

  NetworkImpl& network() { return *network_; }
  const data::DatasetSplits& data() const { return data_; }
  /// True when every epoch of the config is done (nothing left for run()).
  bool complete() const { return first_epoch_ > options_.config.train.epochs; }

 private:
  EpochMetrics train_epoch(int64_t epoch);
  Evaluation evaluate_test_set();
  void prepare_run_directory();
  void check_run_directory() const;
  void share_state_from_root();
  void resume_from_checkpoint();
  RunIdentity identity() const;
  void check_identity(const RunIdentity& stored) const;
  std::string path(const std::string& file) const;

  TrainerOptions options_;
  std::unique_ptr<DirectoryLock> lock_; // rank 0: the one writer of the run directory
  data::DatasetSplits data_;
  Network network_{nullptr};
  std::unique_ptr<FixedPointSGD> optimizer_;
  std::unique_ptr<Communicator> communicator_;
  std::unique_ptr<DataParallelStep> step_;
  std::unique_ptr<data::BatchLoader> train_loader_, test_loader_;
  TrainingObserver* observer_ = nullptr;
  int64_t first_epoch_ = 1;
  std::vector<EpochMetrics> history_;
};

/// Sets LibTorch's (and OpenMP's) thread count: `threads`, or one per hardware thread when 0.
int configure_threads(int64_t threads);

} // namespace fxnn
