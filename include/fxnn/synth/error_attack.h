#pragma once
// An attack on a certificate (docs/synthesis.md section 16): a search for the input of the box that
// maximizes the error of the fixed-point network against the real-valued network. It starts from
// the box's corners and the worst of the sampled inputs, then climbs from them by coordinate search
// with halving steps and pattern moves, tries the ends of each input's quantization cell (where the
// fixed-point output is constant and the float output moves furthest), and kicks the point found
// by a few cells to climb again. A sound bound
// is never exceeded; an unsound claim (aster) may be.

#include <cstdint>
#include <string>
#include <vector>

#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/quantized_network.h"

namespace fxnn::synth {

/// An input already evaluated, where the search may start.
struct AttackStart {
  std::vector<double> input;
  double error = 0.0; // max over the outputs of |fixed - real|
  std::string kind;   // "corner", "random", "centre"
};

struct AttackOptions {
  int64_t evaluations = 20000; // budget of the local search (error evaluations)
  /// The worst `starts` inputs each get an equal share of the budget; what they leave goes to
  /// searches from the next worst inputs given.
  int starts = 8;
  /// After its climb each of those searches kicks the point found by a few quantization cells and
  /// climbs again, keeping the higher end, until its share is spent (iterated local search).
  bool kicks = true;
};

struct AttackResult {
  double error = -1.0; // the largest error found (the starts included)
  std::vector<double> input;
  /// What found it: corner | random | centre (a start was never beaten), coordinate search,
  /// pattern move, cell end.
  std::string found_by;
  int64_t evaluations = 0;
};

/// The error of one input: max_o |y_o - f_o(x)|, y from the integer semantics (evaluate_fixed_real,
/// bit for bit the generated C) and f in long double.
double fixed_point_error(const floatnet::FloatNetwork& net, const QuantizedNetwork& q, const std::vector<double>& x);

/// Local searches from the worst of `starts` (see AttackOptions::starts). Deterministic.
AttackResult attack_error_bound(const floatnet::FloatNetwork& net, const InputBox& box, const QuantizedNetwork& q,
                                std::vector<AttackStart> starts, const AttackOptions& options);

} // namespace fxnn::synth
