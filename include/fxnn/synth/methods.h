#pragma once
// The three format optimizers of `fxnn synth` (docs/synthesis.md sections 6-7 and 9).
//
//   lp     per-neuron integer variables (fractional bits and error exponents), linear constraints
//          from the bound sum of T terms 2^a_t <= 2^(max a_t + ceil(log2 T)); objective: total
//          fractional bits (after Benmaghnia, Martel & Seladji).
//   milp   per-layer formats, 2^-pi linearized by one-hot binaries, per-neuron error variables with
//          the sound propagation sum_j |w_ij| e_j, overflow constraints, hardware cost objective
//          (multiplier width x count) (after Lohar et al.'s Aster, with sound error propagation).
//   aster  Aster's published formulation as a baseline, its pitfalls included: UNSOUND.

#include <string>
#include <vector>

#include "fxnn/core/rounding.h"
#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/error_model.h"
#include "fxnn/synth/input_box.h"
#include "fxnn/synth/linear_program.h"
#include "fxnn/synth/quantized_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

/// Everything an optimizer looks at.
struct SynthesisProblem {
  const floatnet::FloatNetwork* net = nullptr;
  const InputBox* box = nullptr;
  const NetworkRanges* ranges = nullptr;
  const SynthesisBounds* bounds = nullptr;
  const ErrorGains* gains = nullptr;
  double eps = 0.0;    // the error bound the output must meet
  double target = 0.0; // what the optimizer aims at (eps, or less when a retry tightens it)
  Rounding rounding = Rounding::kNearest;
  int word = 32; // W
  int acc = 64;  // A
  double time_limit = 60.0;
  bool uniform_storage = false; // lp: one format for all inputs and one per layer's outputs (eq. (53))
  /// lp: the formats its error budget shares refer to (reference_plan); null: finest_plan.
  const FormatPlan* reference = nullptr;
  /// A solution of the same method to start from (a re-solve at a raised target, where it is still
  /// feasible: eq. (29c)); empty: none.
  std::vector<LinearProgram::NamedValue> start;
};

struct MethodResult {
  bool solved = false;
  std::string infeasible_reason; // when !solved: which layer and bound prevent a solution
  FormatPlan plan;
  LinearProgram::Status status = LinearProgram::Status::kNoSolution;
  double objective = 0.0;
  double solve_seconds = 0.0;
  int variables = 0, constraints = 0, integers = 0;
  /// aster only: the bound its own (unsound) model claims for the chosen formats.
  double claimed_bound = -1.0;
  std::vector<std::string> notes;
  /// The solver's integer variables by name (a start for a related problem).
  std::vector<LinearProgram::NamedValue> solution;
};

MethodResult solve_lp(const SynthesisProblem& problem);

/// Solves `lp` and records its size, status and time in `result`; on no solution sets
/// infeasible_reason ("<what> is infeasible", ...) and returns an empty solution.
/// `relaxation_first`: LinearProgram::solve_relaxation_first.
LinearProgram::Solution solve_recorded(const LinearProgram& lp, double time_limit, double relative_gap,
                                       const std::string& what, MethodResult& result,
                                       const std::vector<LinearProgram::NamedValue>& start = {},
                                       bool relaxation_first = false);
MethodResult solve_milp(const SynthesisProblem& problem);

/// Aster's setting A by default (`--minLen=5 --maxLen=32 --initLen=20 --precision=Fixed32`).
struct AsterSettings {
  int min_len = 5;   // fractional bits of dot products and bias sums, lower end
  int max_len = 32;  // upper end
  int init_len = 20; // input fractional bits: initial error 2^-20
  int word_max = 32; // wordLengthWmax of the cost function
};

MethodResult solve_aster(const SynthesisProblem& problem, const AsterSettings& settings = {});

/// Aster's range analysis (one interval per layer over the hull of all neurons, docs/synthesis.md
/// eq. (45)): per layer the hull of the dot products and of the biased sums.
struct AsterHullRanges {
  std::vector<Interval> dot, biased;
};
AsterHullRanges aster_hull_ranges(const floatnet::FloatNetwork& net, const InputBox& box);

/// ceil(log2 |w|) for w != 0: |w| <= 2^result.
int ceil_log2(double w);

} // namespace fxnn::synth
