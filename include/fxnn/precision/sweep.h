#pragma once
// `fxnn sweep --minus-one`: near-minimality of a plan (spec section 6, step 6). Retrains with each
// tensor class one bit narrower, one class at a time, then all at once.
//
// DIR/fl, DIR/fx          the float run and the plan itself (or those of --reference)
// DIR/minus1_<class>/     one run per class (W, A, GW, GA, acc) and DIR/minus1_all
// DIR/sweep.md            the table (final test error, gap to FX and to FL) and DIR/sweep.png

#include <string>

#include "fxnn/config/experiment_config.h"
#include "fxnn/nn/precision_plan.h"

namespace fxnn {

struct SweepOptions {
  ExperimentConfig config;
  PrecisionPlan plan;
  std::string out_dir;
  /// A `fxnn run` directory whose fl/ and fx/ runs (same config and plan) serve as the references;
  /// empty: the sweep trains them itself.
  std::string reference_dir;
  bool quiet = false;
};

void run_minus_one_sweep(const SweepOptions& options);

} // namespace fxnn
