#pragma once
// `fxnn export`: a trained fixed-point run written as a fixed-point network folder. The command line
// only fills ExportRunOptions and prints the summary.

#include <string>

#include "fxnn/deploy/export_network.h"

namespace fxnn {

struct ExportRunOptions {
  std::string run;                           // a run directory (config.yaml, plan.yaml, checkpoint.pt), or
  std::string checkpoint, config, precision; // a checkpoint with its config and precision plan
  std::string out;                           // the network folder to write
  bool force = false;                        // replace a fixed-point network folder already at `out`
  ExportOptions export_options;
};

/// Checks `out` first, exports (export_network), writes the folder; returns the lines `fxnn export`
/// prints (source, epoch, nodes, weights, and a table of the nodes). Throws std::runtime_error with
/// one line for a float run, a missing file or a folder it may not replace.
std::string run_export(const ExportRunOptions& options);

} // namespace fxnn
