#pragma once
// What `fxnn synth` does, as a library call: resolve the problem (box, eps), synthesize, certify,
// emit C/HLS, validate, write the JSON report. The command line only fills SynthRunOptions.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/synthesize.h"
#include "fxnn/synth/validation.h"

namespace fxnn::synth {

struct SynthRunOptions {
  std::string model;                    // --model (may be empty with --benchmark: the suite's model)
  std::optional<std::string> input_box; // --input-box "lo:hi,..." (given but empty: an error, not absent)
  std::string benchmarks;               // --benchmarks YAML
  std::string benchmark;                // --benchmark NAME
  std::optional<double> eps;            // --error (default: the benchmark's error bound)
  SynthesisOptions synthesis;           // method, rounding, ranges, word, acc
  std::string emit_c_dir;               // --emit-c DIR
  std::string emit_hls_dir;             // --emit-hls DIR
  std::string out_dir;      // --out DIR: the fixed-point network (ir::save_network); sets synthesis.artifact
  bool force = false;       // --force: replace a network folder already at --out (anything else is refused)
  std::string name = "net"; // --name: the C identifier of the generated functions
  int64_t validate = -1;    // --validate N (random inputs); < 0: no validation
  int64_t attack = 20000;   // --attack N: evaluations of the attack's local search after validation; 0: none
  uint64_t seed = 1;
  std::string json; // --json REPORT
};

/// The model path, box and eps of a run. Throws std::invalid_argument / std::runtime_error naming
/// the option for a missing or contradictory box, an unknown benchmark, eps <= 0, a bad --name.
struct ResolvedProblem {
  std::string model;
  InputBox box;
  double eps = 0.0;
};
ResolvedProblem resolve_problem(const SynthRunOptions& options);

/// Runs synthesis on an already loaded network (the box must fit it) and prints a summary to `out`.
/// Writes the report, the code and the artifact only when everything they depend on succeeded.
/// Throws std::runtime_error with one line when no certified formats exist (lp, milp), when code or
/// an artifact was asked for but cannot be emitted (std::invalid_argument when the formats have no
/// exact encoding as a fixed-point network), or when validation fails (sanitizer report, error
/// above the bound).
void run_synthesis(const floatnet::FloatNetwork& net, const ResolvedProblem& problem, const SynthRunOptions& options,
                   std::ostream& out);

} // namespace fxnn::synth
