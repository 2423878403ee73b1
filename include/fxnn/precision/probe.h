#pragma once
// `fxnn probe`: the float baseline run that measures what the precision assignment needs.

#include <string>

#include "fxnn/config/experiment_config.h"
#include "fxnn/precision/probe_stats.h"

namespace fxnn {

struct ProbeOptions {
  ExperimentConfig config;
  std::string out_dir;
  bool resume = false;
  bool quiet = false;
  int64_t stop_after_epoch = 0;
  // j_epoch and the noise-gain sample count come from config.precision.
};

/// Trains the float network of the config into out_dir (a normal run directory) while recording the
/// gradient statistics and J_l, then computes the noise gains on the final model and writes
/// out_dir/stats.json. Resumable like training; a finished probe is loaded, not redone.
/// Returns the statistics (without noise gains when stopped early by stop_after_epoch).
ProbeStats run_probe(const ProbeOptions& options);

/// out_dir/stats.json
std::string probe_stats_path(const std::string& out_dir);

} // namespace fxnn
