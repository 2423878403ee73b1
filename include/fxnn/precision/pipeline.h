#pragma once
// `fxnn run`: the whole method in one command (spec section 6): float probe, analytic assignment,
// fixed-point training from scratch with the same seed and schedule, convergence report.
//
// DIR/fl/          the float run (a run directory) with stats.json
// DIR/plan.yaml    the assigned precision plan; DIR/assignment.json the numbers behind it
// DIR/fx/          the fixed-point run
// DIR/report.md    plan, curves (DIR/curves.png), final gap, saturation
// Every stage resumes: running the command again continues where it stopped.

#include <string>

#include "fxnn/config/experiment_config.h"

namespace fxnn {

struct PipelineOptions {
  ExperimentConfig config; // its `precision:` section holds the method's parameters
  std::string out_dir;
  bool quiet = false;
};

void run_pipeline(const PipelineOptions& options);

/// DIR/report.md (and DIR/curves.png) from DIR/fl, DIR/fx, DIR/assignment.json.
void write_report(const std::string& dir);

} // namespace fxnn
