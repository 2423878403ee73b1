#pragma once
// Validation of a synthesized network by running its generated C (docs/synthesis.md section 12):
// compiled with the system C compiler, plain and with -fsanitize=undefined -fno-sanitize-recover,
// on random inputs of the box, its corners and its centre, against a long double evaluation of the
// float network; then an attack (error_attack.h) searching for an input that breaks the bound: the
// certified one, or the claim of the unsound aster baseline.

#include <cstdint>
#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/certificate.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/quantized_network.h"

namespace fxnn::synth {

struct ValidationOptions {
  int64_t samples = 100000; // uniform random inputs
  uint64_t seed = 1;
  int64_t max_corners = 4096; // all 2^n corners when n <= 12, else this many random corners
  std::string compiler = "cc";
  bool sanitize = true; // also the -fsanitize=undefined build
  /// Where the generated code, the harness and the data go (a fresh temporary folder when empty;
  /// removed at the end unless keep_files).
  std::string work_dir;
  bool keep_files = false;
  /// > 0: the bound the attack tries to break is this one (aster's claimed bound), not the certified one.
  double claimed_bound = -1.0;
  /// Budget of the attack's local search (error_attack.h); 0: no attack.
  int64_t search_evaluations = 20000;
};

struct ValidationResult {
  int64_t random_inputs = 0, corner_inputs = 0, total_inputs = 0;
  int64_t corners_in_box = 0;                   // 2^n
  bool corners_sampled = false;                 // true when 2^n > max_corners
  std::vector<double> max_error;                // per output
  std::vector<std::vector<double>> worst_input; // per output
  double max_error_all = 0.0;
  bool outputs_match_reference = false; // compiled C == evaluate_fixed_real, bit for bit, on every input
  bool sanitizer_run = false;
  bool sanitizer_clean = false;
  std::string sanitizer_report; // its first lines when not clean
  std::string compile_command;
  double seconds = 0.0;
  // The attack (search_evaluations > 0):
  bool searched = false;
  double attacked_bound = 0.0;  // the claimed bound, or the certified one
  bool violation_found = false; // some measured or searched error exceeds attacked_bound
  double search_error = 0.0;    // the largest error found by the search (confirmed by the compiled C)
  std::vector<double> search_input;
  std::string search_found_by; // AttackResult::found_by
  int64_t search_evaluations = 0;
};

/// Throws std::runtime_error naming the command when the compiler or a run fails.
ValidationResult validate(const floatnet::FloatNetwork& net, const InputBox& box, const QuantizedNetwork& q,
                          const Certificate& cert, const ValidationOptions& options);

} // namespace fxnn::synth
