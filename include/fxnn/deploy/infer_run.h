#pragma once
// `fxnn infer`: a fixed-point network folder evaluated on the test split of a config by the integer
// runtime, optionally checked against its LibTorch simulation and compared with the run it came from;
// the inputs, labels and output codes as .npy files and the results as JSON. The command line only
// fills InferRunOptions.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "fxnn/deploy/inference.h"

namespace fxnn {

struct InferRunOptions {
  std::string model;                                 // the network folder (model.json)
  std::string config;                                // experiment config: its data set's test split
  std::vector<std::string> overrides;                // --set key=value of the config
  std::string run;                                   // the run it was exported from (empty: none): also evaluate it
  int64_t limit = 0;                                 // only the first N test samples (0: all)
  InferenceOptions inference;                        // batch, engine, check, quiet (source_model comes from `run`)
  std::string save_inputs, save_labels, save_output; // .npy files (empty: none)
  std::string json;                                  // the results as JSON (empty: none)
};

/// Evaluates, prints the results to `out` and writes the files asked for. Throws std::runtime_error
/// when the runtime disagrees with the simulation (after writing everything), and with one line
/// naming the file for bad input.
void run_infer(const InferRunOptions& options, std::ostream& out);

} // namespace fxnn
