// --method lp: per-neuron integer formats in the style of Benmaghnia, Martel & Seladji
// (docs/synthesis.md section 6, eq. (29)-(38)).

#include <cmath>
#include <map>

#include "fxnn/synth/methods.h"

namespace fxnn::synth {

int ceil_log2(double w) {
  int e = 0;
  const double f = std::frexp(std::fabs(w), &e); // |w| = f 2^e, f in [0.5, 1)
  return f == 0.5 ? e - 1 : e;
}

namespace {

using Sense = LinearProgram::Sense;

/// Domain limits of the integer variables (loose; the word constraints are the real limits).
constexpr double kFracLow = -62, kFracHigh = 62;
constexpr double kErrorLow = -600;
/// The part of the error budget shared in proportion to the terms' gains (the rest equally).
constexpr double kProportionalShare = 0.9;

struct NodeVars {
  int frac = -1;  // F
  int error = -1; // E: e <= 2^E
};

/// One output format for a group of stored values (the inputs, or the neurons of
/// one layer), as the fixed-point network artifact needs (docs/synthesis.md eq. (53)).
void same_frac(LinearProgram& lp, const std::vector<NodeVars>& group, const std::string& what) {
  for (size_t k = 1; k < group.size(); ++k)
    lp.add_constraint({{group[k].frac, 1}, {group[0].frac, -1}}, Sense::kEqual, 0,
                      "uniform_" + what + "_" + std::to_string(k));
}

} // namespace

LinearProgram::Solution solve_recorded(const LinearProgram& lp, double time_limit, double relative_gap,
                                       const std::string& what, MethodResult& result,
                                       const std::vector<LinearProgram::NamedValue>& start, bool relaxation_first) {
  result.variables = lp.variables();
  result.constraints = lp.constraints();
  result.integers = lp.integers();
  LinearProgram::Solution s = relaxation_first ? lp.solve_relaxation_first(time_limit, relative_gap, start)
                                               : lp.solve(time_limit, relative_gap, start);
  result.status = s.status;
  result.solve_seconds = s.seconds;
  result.solved = !s.values.empty();
  if (result.solved) {
    result.objective = s.objective;
    result.solution = lp.named_integers(s);
  } else
    result.infeasible_reason = what + " is " + to_string(s.status);
  return s;
}

MethodResult solve_lp(const SynthesisProblem& p) {
  const floatnet::FloatNetwork& net = *p.net;
  const SynthesisBounds& b = *p.bounds;
  const ErrorGains& gains = *p.gains;
  const int r = rounding_exponent(p.rounding);
  const double out_exponent = std::floor(std::log2(p.target)); // eq. (34): E_out <= floor(log2 eps)
  LinearProgram lp;
  MethodResult result;

  // The finest formats the word sizes allow: the reference of the error budget shares below.
  const FormatPlan finest = p.reference ? *p.reference : finest_plan(net, b, p.word, p.acc, {0, p.uniform_storage});
  std::map<int, double> reference;
  // Inputs: F_j with F_j + P_j + 2 <= W (eq. (32)).
  std::vector<NodeVars> inputs;
  for (size_t j = 0; j < b.inputs.size(); ++j) {
    NodeVars n;
    const ValueBounds& v = b.inputs[j];
    // error 2^(-F-r) <= cap, at least one bit
    const double lo = std::max(-v.cap_exponent - r, 1 - v.storage_int);
    n.frac = lp.add_variable(lo, p.word - v.storage_int, 1.0, true, "F_in" + std::to_string(j));
    reference[n.frac] = finest.input_frac[j];
    inputs.push_back(n);
  }
  if (p.uniform_storage) same_frac(lp, inputs, "input");
  // Per neuron: F (output), Fw (weights), Fa (accumulator and bias), E (error exponent, e <= 2^E).
  std::vector<std::vector<NodeVars>> nodes(net.layers.size());
  std::vector<std::vector<int>> frac_weight(net.layers.size()), frac_acc(net.layers.size());
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    const bool is_output = l + 1 == net.layers.size();
    const std::vector<NodeVars>& previous = l == 0 ? inputs : nodes[l - 1];
    // G >= F_j >= L for every input of the layer: the common alignment of eq. (6) needs
    // Fa_i >= Fw_i + G; the aligned weight constants W 2^(Fa - Fw - F_j) fit 64 bits when
    // Fa_i - L <= 62 - Uw_i.
    const int g = lp.add_variable(kFracLow, kFracHigh, 0.0, true, "G" + std::to_string(l));
    const int low = lp.add_variable(kFracLow, kFracHigh, 0.0, true, "L" + std::to_string(l));
    for (const NodeVars& in : previous) {
      lp.add_constraint({{g, 1}, {in.frac, -1}}, Sense::kGreaterEqual, 0);
      lp.add_constraint({{low, 1}, {in.frac, -1}}, Sense::kLessEqual, 0);
    }
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      const NeuronBounds& nb = b.layers[l][static_cast<size_t>(i)];
      const std::string name = std::to_string(l + 1) + "_" + std::to_string(i);
      NodeVars n;
      n.frac = lp.add_variable(1 - nb.value.storage_int, p.word - nb.value.storage_int, 1.0, true, "F" + name);
      n.error = lp.add_variable(
          kErrorLow, is_output ? std::min<double>(nb.value.cap_exponent, out_exponent) : nb.value.cap_exponent, 0.0,
          true, "E" + name);
      const int fw = lp.add_variable(nb.min_frac_weight, p.word - 1 - nb.weight_int,
                                     static_cast<double>(layer.inputs()), true, "Fw" + name);
      const int fa = lp.add_variable(kFracLow, p.acc - 1 - nb.acc_int, 1.0, true, "Fa" + name);
      lp.add_constraint({{fa, 1}, {fw, -1}, {g, -1}}, Sense::kGreaterEqual, 0, "align" + name);
      lp.add_constraint({{fa, 1}, {n.frac, -1}}, Sense::kGreaterEqual, 0, "no_left_shift" + name);
      lp.add_constraint({{fa, 1}, {n.frac, -1}}, Sense::kLessEqual, 62, "shift_width" + name);
      lp.add_constraint({{fa, 1}, {low, -1}}, Sense::kLessEqual, 62 - nb.weight_int, "align_width" + name);
      const NeuronFormat& ref = finest.layers[l][static_cast<size_t>(i)];
      reference[n.frac] = ref.frac_out;
      reference[fw] = ref.frac_weight;
      reference[fa] = ref.frac_acc;
      nodes[l].push_back(n);
      frac_weight[l].push_back(fw);
      frac_acc[l].push_back(fa);
    }
    if (p.uniform_storage) same_frac(lp, nodes[l], "layer" + std::to_string(l + 1));
  }

  // Error constraints (eq. (35)-(36)): e_i <= sum over the rounding sources t upstream of i of
  // gain_i(t) s_t 2^(-F_t - r); the sum is <= 2^E_i when every term is <= w_t 2^E_i with
  // sum_t w_t <= 1 (eq. (29)). Shares: w_t = a m_t / sum m + (1 - a) / T, m_t the term at the finest
  // formats the word sizes allow (finest_plan): when those formats meet eps with room a, so does the LP.
  struct Term {
    int variable;   // the fractional bits F_t of the term
    double log_mag; // log2(gain s_t) - r
  };
  const auto bound_error = [&](size_t l, const Eigen::MatrixXd& gain, int64_t i, int e) {
    std::vector<Term> terms;
    for (int64_t j = 0; j < gains.inputs; ++j)
      if (gain(i, j) > 0) terms.push_back({inputs[static_cast<size_t>(j)].frac, std::log2(gain(i, j)) - r});
    for (size_t m = 0; m <= l; ++m)
      for (int64_t k = 0; k < net.layers[m].outputs(); ++k) {
        const double gk = gain(i, gains.source(m, k));
        if (!(gk > 0)) continue;
        const size_t uk = static_cast<size_t>(k);
        const double shift = std::log2(gk) - r;
        terms.push_back({nodes[m][uk].frac, shift});
        if (net.layers[m].activation == floatnet::Activation::kClippedRelu) terms.push_back({nodes[m][uk].frac, shift});
        terms.push_back({frac_acc[m][uk], shift});
        const double s = gains.input_magnitude[m][uk];
        if (s > 0) terms.push_back({frac_weight[m][uk], std::log2(gk * s) - r});
      }
    if (terms.empty()) return;
    double total = 0;
    // The smallest each term can be: at the finest format the word sizes allow.
    const auto finest = [&](const Term& t) { return std::exp2(t.log_mag - reference.at(t.variable)); };
    for (const Term& t : terms) total += finest(t);
    const double count = static_cast<double>(terms.size());
    for (const Term& t : terms) {
      const double share = kProportionalShare * finest(t) / total + (1 - kProportionalShare) / count;
      // 2^(log_mag - F) <= share 2^E  <=>  E + F >= log_mag - log2(share)
      lp.add_constraint({{e, 1}, {t.variable, 1}}, Sense::kGreaterEqual, std::ceil(t.log_mag - std::log2(share)));
    }
  };
  for (size_t l = 0; l < net.layers.size(); ++l) {
    for (int64_t i = 0; i < gains.gain[l].rows(); ++i) {
      const size_t ui = static_cast<size_t>(i);
      const double slack = gains.stable_slack[l][ui];
      int e = nodes[l][ui].error;
      if (std::isfinite(slack)) {
        // Stability as the gains assume it (eq. (20d)): the pre-activation error stays below the slack.
        const double limit = std::floor(std::log2(slack));
        if (gains.dead[l][ui]) {
          bound_error(
              l, gains.pre_gain[l], i,
              lp.add_variable(kErrorLow, limit, 0.0, true, "Epre" + std::to_string(l + 1) + "_" + std::to_string(i)));
        } else {
          lp.add_constraint({{e, 1}}, Sense::kLessEqual, limit);
        }
      }
      bound_error(l, gains.gain[l], i, e);
    }
  }

  // Almost every row is a difference of two variables: the relaxation's optimal vertex is integral
  // on every network of the suite, and is then the solution (AirplaneNN: 0.06 s, where CBC's root
  // heuristics on its 60000 rows took 0.44 s).
  const LinearProgram::Solution s = solve_recorded(lp, p.time_limit, 0.0, "the LP", result, p.start, true);
  if (!result.solved) return result;
  const auto value = [&](int var) { return static_cast<int>(std::lround(s.values[static_cast<size_t>(var)])); };
  for (const NodeVars& in : inputs) result.plan.input_frac.push_back(value(in.frac));
  for (size_t l = 0; l < net.layers.size(); ++l) {
    std::vector<NeuronFormat> formats;
    for (size_t i = 0; i < nodes[l].size(); ++i)
      formats.push_back(NeuronFormat{value(nodes[l][i].frac), value(frac_weight[l][i]), value(frac_acc[l][i])});
    result.plan.layers.push_back(std::move(formats));
  }
  return result;
}

} // namespace fxnn::synth
