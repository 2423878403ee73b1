#pragma once
// The constants the optimizers need about a network and its ranges (docs/synthesis.md section 4):
// magnitudes, error caps and the integer bits that make a format overflow-free.

#include <Eigen/Dense>

#include <vector>

#include "fxnn/core/rounding.h"
#include "fxnn/floatnet/float_network.h"
#include "fxnn/synth/ranges.h"

namespace fxnn::synth {

/// Exponent of the rounding error: a value rounded to F fractional bits is off by at most
/// 2^(-F - r), r = 0 for floor and 1 for nearest (eq. (9)-(10)).
int rounding_exponent(Rounding rounding);

/// The smallest integer U with m < 2^U (m >= 0; kMinExponent for m = 0).
int ulog2(double m);

/// Weights keep at least this many significant bits (Fw >= kMinWeightBits - Uw0), which bounds
/// |w^| <= |w| + 2^(Uw0 - kMinWeightBits) independently of the format (eq. (31)).
constexpr int kMinWeightBits = 4;
/// Exponent used for quantities that are identically zero.
constexpr int kMinExponent = -40;

/// One quantity that is stored (an input or a neuron's output).
///
/// With M < 2^P its real magnitude, the computed value stays below 2^P in magnitude, and so fits a
/// signed word of P + 1 integer bits, as long as its error stays below the slack 2^P - M. When the
/// slack is at least 2^(P - kSlackBits), errors are kept below half of it (storage_int = P + 1);
/// otherwise below 2^P, and the word gets one more bit (storage_int = P + 2) (eq. (30)-(32)).
struct ValueBounds {
  double magnitude = 0.0; // M: max |y| of the real value (post-activation)
  double cap = 0.0;       // errors are kept <= cap
  int cap_exponent = 0;   // floor(log2 cap)
  int storage_int = 0;    // word constraint F + storage_int <= W
};

/// Slack below which a value gets the extra integer bit.
constexpr int kSlackBits = 6;

/// The bounds of a value of real magnitude `magnitude`; `fallback` (> 0) sets P for a value that is
/// identically 0 (a dead neuron: its pre-activation magnitude).
ValueBounds value_bounds(double magnitude, double fallback);

struct NeuronBounds {
  ValueBounds value;
  double row_l1 = 0.0;     // sum_j |w_ij|: the sound amplification of input errors (eq. (20))
  double weight_sum = 0.0; // S_i = sum_j (M_j + cap_j): multiplies the weight rounding error
  int weight_int0 = 0;     // Uw0 = ulog2(max_j |w_ij|)
  int weight_int = 0;      // weight word constraint Fw + weight_int + 1 <= W
  int acc_int = 0;         // accumulator word constraint Fa + acc_int + 1 <= A (eq. (33))
  int min_frac_weight = 0; // kMinWeightBits - Uw0
};

struct SynthesisBounds {
  std::vector<ValueBounds> inputs;
  std::vector<std::vector<NeuronBounds>> layers;
};

SynthesisBounds synthesis_bounds(const floatnet::FloatNetwork& net, const NetworkRanges& ranges);

/// For formats that are also written as a fixed-point network (docs/synthesis.md eq. (52)): that
/// network checks every accumulator, times its multiplier and plus its offset, against the full code
/// range of its input format, in int64. Raises acc_int of every neuron of layer l to at least
///   max_k ulog2(row'_k 2^(S_l - 1) + |b_k| + 1) + 1 - (64 - acc),   row'_k = sum_j (|w_kj| + 2^(Uw0_k - 4)),
/// S_l the largest storage_int of the layer's inputs (the layer maximum: the artifact's common
/// accumulator format is the finest of the layer).
void bound_artifact_accumulators(const floatnet::FloatNetwork& net, int acc, SynthesisBounds& bounds);

struct FinestPlanOptions {
  /// Where an accumulator limits F_in + Fw (eq. (6), (33), (52)): the weights of every layer stay
  /// this many bits below their full width so that the layer's inputs may be as much finer.
  int traded_weight_bits = 0;
  /// One format for all inputs and one per layer's outputs (eq. (53)).
  bool uniform_storage = false;
};

struct FormatPlan;
/// The finest formats the word sizes W and A allow, every constraint of check_plan kept: the
/// reference of the LP's error budget shares and of infeasibility diagnoses (see reference_plan).
FormatPlan finest_plan(const floatnet::FloatNetwork& net, const SynthesisBounds& bounds, int word, int acc,
                       const FinestPlanOptions& options = {});

/// The gains of the affine error analysis (docs/synthesis.md section 4.2, eq. (20a)-(20d)).
///
/// Every rounding error is an independent symbol: the quantization of input j, and the error
/// committed at the pre-activation of neuron m (its bias, weight and shift roundings). gain[l](i, k)
/// bounds how much a symbol of radius 1 at source k moves neuron i of layer l after its activation:
/// errors propagate through stably active neurons exactly (signed, one symbol at a time), vanish
/// at stably dead ones, and are split as s D = D/2 + (s - 1/2) D, |s - 1/2| <= 1/2, at the others.
/// A neuron is stably active (dead) when its pre-activation range stays at least `margin` above
/// (below) 0: the optimizers assume errors below the margin, the certificate checks it.
struct ErrorGains {
  int64_t inputs = 0;
  std::vector<int64_t> offset;       // source index of neuron (l, i): inputs + offset[l] + i
  std::vector<Eigen::MatrixXd> gain; // per layer: [n_l, sources()]
  /// The same before the activation: bounds |z^_i - z_i| (for the stability conditions below).
  std::vector<Eigen::MatrixXd> pre_gain;
  /// Per neuron: the largest pre-activation error that keeps it stable as assumed (its distance
  /// from 0, halved as a safety margin), or infinity when it is not assumed stable (eq. (20d)).
  std::vector<std::vector<double>> stable_slack;
  /// Per neuron: assumed stably dead (its gain row is 0, its pre_gain row is not); over a partitioned
  /// box, assumed stable in some part: either way its slack bounds its pre_gain row.
  std::vector<std::vector<bool>> dead;
  std::vector<std::vector<double>> input_magnitude; // per neuron: sum_j max |y_j| over its inputs (S'_i)
  /// Over a partitioned box (NetworkRanges::parts): the gains of each part, of which the members above
  /// are the worst (docs/synthesis.md section 5.1), with the output layer's matrices only (gain and
  /// pre_gain of the hidden layers empty). Empty when the box is analysed whole.
  std::vector<ErrorGains> parts;
  int64_t sources() const;
  int64_t source(size_t layer, int64_t neuron) const { return inputs + offset[layer] + neuron; }
};

/// Over a partitioned box (ranges.parts), the worst of the parts' gains (see worst_of_parts).
ErrorGains error_gains(const floatnet::FloatNetwork& net, const NetworkRanges& ranges, double margin);

/// The worst of the parts' gains (docs/synthesis.md eq. (28c)): each part's error is at most its
/// gains times the magnitudes, so at most the largest gains times the largest magnitudes. A neuron
/// assumed stable in some part keeps the smallest of its slacks there, checked against the largest
/// pre-activation gains (the `dead` row of the optimizers), which bound its error in every part.
/// The result keeps `each` as its parts, trimmed to their output layers.
ErrorGains worst_of_parts(std::vector<ErrorGains> each);

} // namespace fxnn::synth
