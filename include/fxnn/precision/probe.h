#pragma once
// `fxnn probe`: the float baseline run that measures what the precision assignment needs.

#include <string>

#include "fxnn/config/experiment_config.h"
#include "fxnn/io/text_table.h"
#include "fxnn/precision/probe_stats.h"

namespace fxnn {

struct ProbeOptions {
  ExperimentConfig config;
  std::string out_dir;
  bool resume = false;
  bool quiet = false;
  int64_t stop_after_epoch = 0;
  // The noise-gain sample count and the injection draws come from config.precision.
};

/// Trains the float network of the config into out_dir (a normal run directory) while recording the
/// gradient statistics and the back-propagated gains of every G^(A) point, then computes the noise gains
/// E on the final model, checks the back-propagated gains by noise injection and writes
/// out_dir/stats.json. Resumable like training; a finished probe is loaded, not redone.
/// Returns the statistics (without noise gains when stopped early by stop_after_epoch).
/// Throws std::runtime_error naming the folder when out_dir holds a finished training run without
/// probe statistics, or statistics in which a layer with weights has no gradient iterations.
ProbeStats run_probe(const ProbeOptions& options);

/// out_dir/stats.json
std::string probe_stats_path(const std::string& out_dir);

/// The back-propagated gains of every G^(A) point: per weight layer its noise reaches, the closed form
/// of eq. (13) beside the noise-injection measurement, largest element and sum over elements, and the
/// lambda the assignment uses (the largest over the run's epochs).
TextTable backprop_gain_table(const ProbeStats& stats);

} // namespace fxnn
