// --method aster: the formulation of the Aster artifact (NNQuantizationPhase / CplexSolver /
// NNRangeAnalysisPhase), reproduced as a baseline with its pitfalls (docs/synthesis.md section 9):
//   1. the propagation factor of a layer is max_r |sum_c W[r,c]| (signed row sums),
//   2. the error of layer l is amplified by the weights of layer l (not l+1): the input error enters
//      layer 1 without W_1's amplification and the last layer's weights never count,
//   3. one rounding error 2^-piDot + 2^-piBias per layer, whatever the dot product's length,
//   4. one interval per layer over the hull of all neurons and all inputs.
// Its bound is UNSOUND; fxnn reports it as "claimed" beside the sound certificate of the same formats.

#include <algorithm>
#include <cmath>

#include "fxnn/synth/methods.h"
#include "one_hot.h"

namespace fxnn::synth {

namespace {

using Sense = LinearProgram::Sense;
using Term = LinearProgram::Term;

/// Aster's range arithmetic above this magnitude overflows its 32-bit integer-bit computation.
constexpr double kAsterRangeLimit = 2147483648.0; // 2^31

Interval hull(const Interval& a, const Interval& b) { return {std::min(a.lo, b.lo), std::max(a.hi, b.hi)}; }

Interval times(const Interval& a, const Interval& b) {
  const double p[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return {*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
}

/// FixedPrecision.integerBitsNeeded: bits of the integer part plus a sign bit.
int integer_bits_needed(double magnitude) {
  int bits = 0;
  for (double v = std::floor(magnitude); v >= 1; v = std::floor(v / 2)) ++bits;
  return bits + 1;
}

/// An affine expression: constant + sum of terms.
struct Affine {
  double constant = 0.0;
  std::vector<Term> terms;
  Affine scaled(double s) const {
    Affine out{constant * s, terms};
    for (Term& t : out.terms) t.coefficient *= s;
    return out;
  }
  Affine plus(const Affine& o) const {
    Affine out{constant + o.constant, terms};
    append(out.terms, o.terms);
    return out;
  }
};

} // namespace

AsterHullRanges aster_hull_ranges(const floatnet::FloatNetwork& net, const InputBox& box) {
  AsterHullRanges out;
  Interval x = box.dims.front();
  for (const Interval& iv : box.dims) x = hull(x, iv); // "union all individual input ranges"
  for (const floatnet::DenseLayer& layer : net.layers) {
    const Interval w{layer.weight.minCoeff(), layer.weight.maxCoeff()};
    const Interval b{layer.bias.minCoeff(), layer.bias.maxCoeff()};
    Interval dot = times(w, x);
    dot = {dot.lo * static_cast<double>(layer.inputs()), dot.hi * static_cast<double>(layer.inputs())};
    const Interval biased{dot.lo + b.lo, dot.hi + b.hi};
    out.dot.push_back(dot);
    out.biased.push_back(biased);
    x = layer.activation == floatnet::Activation::kLinear
            ? biased
            : Interval{std::max(0.0, biased.lo), std::max(0.0, biased.hi)};
    if (layer.activation == floatnet::Activation::kClippedRelu)
      x = {std::min(x.lo, layer.clip), std::min(x.hi, layer.clip)};
  }
  return out;
}

MethodResult solve_aster(const SynthesisProblem& p, const AsterSettings& settings) {
  const floatnet::FloatNetwork& net = *p.net;
  const size_t layers = net.layers.size();
  MethodResult result;
  result.notes.push_back(
      "UNSOUND baseline: Aster's formulation (signed row sums, off-by-one amplification, one rounding "
      "per dot product, per-layer hull ranges); its claimed bound is not a guarantee");
  const AsterHullRanges ranges = aster_hull_ranges(net, *p.box);
  std::vector<int> int_dot, int_bias;
  for (size_t l = 0; l < layers; ++l) {
    const double md = std::max(std::fabs(ranges.dot[l].lo), std::fabs(ranges.dot[l].hi));
    const double mb = std::max(std::fabs(ranges.biased[l].lo), std::fabs(ranges.biased[l].hi));
    if (md >= kAsterRangeLimit || mb >= kAsterRangeLimit) {
      result.infeasible_reason = "layer " + std::to_string(l + 1) + ": Aster's per-layer hull range reaches " +
                                 std::to_string(std::max(md, mb)) + " >= 2^31";
      return result;
    }
    int_dot.push_back(integer_bits_needed(md));
    int_bias.push_back(integer_bits_needed(mb));
  }
  // maxWeight(l) = max_r |sum_c W[r,c]| (pitfall 1).
  std::vector<double> max_weight;
  for (const auto& layer : net.layers) max_weight.push_back(layer.weight.rowwise().sum().cwiseAbs().maxCoeff());

  // Aster's own model at its finest (every pi at maxLen): if even that misses the target, say so.
  {
    double prop = std::ldexp(1.0, -settings.init_len), total = 0.0;
    for (size_t l = 0; l < layers; ++l) {
      total = 2 * std::ldexp(1.0, -settings.max_len) + prop;
      prop = max_weight[l] * total;
    }
    if (total > p.target) {
      result.infeasible_reason =
          "Aster's own model cannot reach eps: with every precision at maxLen = " + std::to_string(settings.max_len) +
          " it claims " + std::to_string(total) + ", the input error 2^-" + std::to_string(settings.init_len) +
          " amplified by the signed row sums of the layers";
      return result;
    }
  }
  const double scale = 1.0 / p.eps; // errors in units of eps (the model is unchanged)
  LinearProgram lp;
  std::vector<OneHot> pi_dot, pi_bias;
  std::vector<int> cost_bias;
  Affine prop{std::ldexp(1.0, -settings.init_len) * scale, {}};
  Affine total;
  for (size_t l = 0; l < layers; ++l) {
    const std::string tag = std::to_string(l + 1);
    pi_dot.push_back(add_one_hot(lp, settings.min_len, settings.max_len, "dot_" + tag));
    pi_bias.push_back(add_one_hot(lp, settings.min_len, settings.max_len, "bias_" + tag));
    const Affine two_dot{0.0, pi_dot.back().pow2_terms(scale)}, two_bias{0.0, pi_bias.back().pow2_terms(scale)};
    total = two_dot.plus(two_bias).plus(prop); // pitfall 3: one rounding per dot product
    const Affine after_dot = two_dot.plus(prop);
    const double rep_dot = std::ldexp(1.0, int_dot[l] - 1) * scale, rep_bias = std::ldexp(1.0, int_bias[l] - 1) * scale;
    // The finite-precision range stays in the representable range (range_dot_*, range_bias_*).
    lp.add_constraint(after_dot.terms, Sense::kLessEqual, rep_dot - ranges.dot[l].hi * scale - after_dot.constant);
    lp.add_constraint(after_dot.terms, Sense::kLessEqual, rep_dot + ranges.dot[l].lo * scale - after_dot.constant);
    lp.add_constraint(total.terms, Sense::kLessEqual, rep_bias - ranges.biased[l].hi * scale - total.constant);
    lp.add_constraint(total.terms, Sense::kLessEqual, rep_bias + ranges.biased[l].lo * scale - total.constant);
    prop = total.scaled(max_weight[l]); // pitfall 2: amplified by this layer's weights
    cost_bias.push_back(lp.add_variable(0, 100, 1.0, true, "costBias_" + tag));
    std::vector<Term> a{{cost_bias.back(), 1.0}}, b{{cost_bias.back(), 1.0}};
    append(a, pi_dot.back().value_terms(-1));
    append(b, pi_bias.back().value_terms(-1));
    lp.add_constraint(a, Sense::kGreaterEqual, 0);
    lp.add_constraint(b, Sense::kGreaterEqual, 0);
  }
  lp.add_constraint(total.terms, Sense::kLessEqual, p.target * scale - total.constant, "error");
  // Objective: sum_l costBias_l + piBias_l + n_l n_(l-1) wordLengthWmax piDot_l.
  // cost_l = piBias_l + n_l n_(l-1) wordLengthWmax piDot_l, a continuous variable equal to it.
  std::vector<Term> objective_rows;
  for (size_t l = 0; l < layers; ++l) {
    const auto& layer = net.layers[l];
    const double mult = static_cast<double>(layer.outputs() * layer.inputs() * settings.word_max);
    const int obj = lp.add_variable(-1e12, 1e12, 1.0, false, "cost_" + std::to_string(l + 1));
    std::vector<Term> row{{obj, 1.0}};
    append(row, pi_bias[l].value_terms(-1));
    append(row, pi_dot[l].value_terms(-mult));
    lp.add_constraint(row, Sense::kEqual, 0);
  }

  const LinearProgram::Solution s = solve_recorded(lp, p.time_limit, 0.0, "Aster's MILP", result);
  if (!result.solved) return result;

  // The claimed bound (getTotalError) of the chosen fractional bits.
  double claimed_prop = std::ldexp(1.0, -settings.init_len), claimed = 0.0;
  for (size_t l = 0; l < layers; ++l) {
    claimed = std::ldexp(1.0, -pi_dot[l].value(s.values)) + std::ldexp(1.0, -pi_bias[l].value(s.values)) + claimed_prop;
    claimed_prop = max_weight[l] * claimed;
  }
  result.claimed_bound = claimed;

  // Formats of fxnn's integer semantics: inputs at initLen, outputs at piBias, weights at Aster's
  // guarded precision piDot + ceil(log2 n) + 1, all clamped to the word sizes W and A (Aster
  // assumes ap_fixed of any width; the clamps are listed in the notes).
  const SynthesisBounds& b = *p.bounds;
  result.plan.input_frac.assign(b.inputs.size(), settings.init_len);
  int previous = settings.init_len;
  for (size_t l = 0; l < layers; ++l) {
    const auto& layer = net.layers[l];
    int weight_int = -1000, acc_int = -1000;
    for (const auto& n : b.layers[l]) {
      weight_int = std::max(weight_int, n.weight_int);
      acc_int = std::max(acc_int, n.acc_int);
    }
    const int guarded =
        pi_dot[l].value(s.values) + static_cast<int>(std::ceil(std::log2(static_cast<double>(layer.inputs())))) + 1;
    const int fw = std::min({guarded, p.word - 1 - weight_int, p.acc - 1 - acc_int - previous});
    if (fw < guarded)
      result.notes.push_back("layer " + std::to_string(l + 1) + ": weight fractional bits clamped from " +
                             std::to_string(guarded) + " to " + std::to_string(fw) + " by the word sizes");
    const int fa = fw + previous;
    int storage_int = -1000;
    for (const auto& n : b.layers[l]) storage_int = std::max(storage_int, n.value.storage_int);
    const int f = std::min({pi_bias[l].value(s.values), fa, p.word - storage_int});
    if (f < pi_bias[l].value(s.values))
      result.notes.push_back("layer " + std::to_string(l + 1) + ": output fractional bits clamped from " +
                             std::to_string(pi_bias[l].value(s.values)) + " to " + std::to_string(f) +
                             " by the word size");
    result.plan.layers.emplace_back(static_cast<size_t>(layer.outputs()), NeuronFormat{f, fw, fa});
    previous = f;
  }
  return result;
}

} // namespace fxnn::synth
