#pragma once
// `fxnn lowbit`: a float checkpoint or ONNX network converted to a low-bit network folder (docs/lowbit.md), its report
// (per-node steps, accumulator bounds, runtime kernels), its accuracy beside the float model's and the
// runtime checked against the converter's simulation. The command line only fills LowbitRunOptions.

#include <cstdint>
#include <ostream>
#include <string>

#include "fxnn/deploy/lowbit_converter.h"
#include "fxnn/deploy/lowbit_finetune.h"

namespace fxnn::lowbit {

struct LowbitRunOptions {
  std::string checkpoint; // checkpoint.pt of a float run, or
  std::string onnx;       // a float network in ONNX (floatnet/onnx_layer_import.h)
  std::string config;     // the experiment config of the checkpoint; for ONNX, the data set and its normalization
  std::string out;        // the network folder to write
  std::string json;       // the results as JSON (empty: none)
  LowbitOptions conversion;
  FinetuneOptions finetune; // epochs 0: convert the float network as it is
  int64_t limit = 0;        // only the first N test samples (0: all)
  int64_t batch = 256;      // samples per batch of the evaluation
  bool quiet = false;       // no progress line
  bool force = false;       // replace a fixed-point network folder already at `out`

  std::string source() const; // the checkpoint or the ONNX file
};

/// Checks the options and `out` (before minutes of conversion), converts, writes the folder, prints
/// the report to `out_text`, evaluates the network on the test split and writes the JSON. Throws
/// std::runtime_error when the integer runtime disagrees with the converter's simulation (after the
/// report), and with one line naming the file or value for bad input.
void run_lowbit(const LowbitRunOptions& options, std::ostream& out_text);

} // namespace fxnn::lowbit
