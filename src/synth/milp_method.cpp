// --method milp: per-layer formats, one-hot linearization of 2^-pi, the sound affine error
// propagation, overflow constraints and a multiplier cost objective (docs/synthesis.md section 7,
// eq. (39)-(43)).

#include <algorithm>
#include <cmath>
#include <limits>

#include "fxnn/synth/methods.h"
#include "one_hot.h"

namespace fxnn::synth {

namespace {

using Sense = LinearProgram::Sense;
using Term = LinearProgram::Term;

/// How many fractional-bit values below the word-size maximum each format may take.
constexpr int kDomainSpan = 40;
/// Branch and bound stops within this relative distance of the optimal cost.
constexpr double kRelativeGap = 0.005;
/// A relaxed one-hot weight above this counts as support (CLP's solutions carry tolerances).
constexpr double kSupportTolerance = 1e-7;

std::string layer_name(size_t l) { return l == 0 ? "the input layer" : "layer " + std::to_string(l); }

/// One error constraint, aggregated per layer of sources (formats are per layer):
/// sum_m f[m] 2^(-F_m - rf) + a[m] 2^(-Fa_m - 1) + w[m] 2^(-Fw_m - r) <= cap (eq. (40)).
struct ErrorRow {
  std::vector<double> f, a, w;
  double cap = 0.0;
  std::string name;
};

/// Per-layer integer bits (index 0: the inputs) of the stored values, weights and accumulators, and
/// the fewest fractional bits a layer's weights may have.
struct LayerIntegerBits {
  std::vector<int> storage, weight, acc, min_frac_weight;
};
LayerIntegerBits layer_integer_bits(const SynthesisBounds& b, size_t layers) {
  LayerIntegerBits bits{std::vector<int>(layers + 1, -1000), std::vector<int>(layers + 1, -1000),
                        std::vector<int>(layers + 1, -1000), std::vector<int>(layers + 1, -1000)};
  for (const auto& v : b.inputs) bits.storage[0] = std::max(bits.storage[0], v.storage_int);
  for (size_t l = 0; l < layers; ++l)
    for (const auto& n : b.layers[l]) {
      bits.storage[l + 1] = std::max(bits.storage[l + 1], n.value.storage_int);
      bits.weight[l + 1] = std::max(bits.weight[l + 1], n.weight_int);
      bits.acc[l + 1] = std::max(bits.acc[l + 1], n.acc_int);
      bits.min_frac_weight[l + 1] = std::max(bits.min_frac_weight[l + 1], n.min_frac_weight);
    }
  return bits;
}

/// The exponent shift of each rate: inputs 2^(-F0 - r); the shift and bias of a neuron are one term
/// 2^-F for floor (their sum is below 2^-F, eq. (11)), two for nearest.
int rate_shift(size_t m, int r, bool nearest) { return m == 0 ? r : (nearest ? 1 : 0); }

/// Whether every coefficient of `a` is at most that of `b` (same cap): then b's row implies a's.
bool dominated(const ErrorRow& a, const ErrorRow& b) {
  for (size_t m = 0; m < a.f.size(); ++m)
    if (a.f[m] > b.f[m] || a.a[m] > b.a[m] || a.w[m] > b.w[m]) return false;
  return true;
}

/// Removes from rows[first..] every row that another of them implies (the parts' rows of one output:
/// most parts are dominated by a few), keeping the first of equal rows.
void drop_dominated(std::vector<ErrorRow>& rows, size_t first) {
  std::vector<bool> implied(rows.size(), false);
  for (size_t k = first; k < rows.size(); ++k)
    for (size_t o = first; o < rows.size() && !implied[k]; ++o)
      implied[k] = o != k && dominated(rows[k], rows[o]) && (!dominated(rows[o], rows[k]) || o < k);
  size_t end = first;
  for (size_t k = first; k < rows.size(); ++k) {
    if (implied[k]) continue;
    if (end != k) rows[end] = std::move(rows[k]); // never onto itself: that would empty it
    ++end;
  }
  rows.resize(end);
}

/// Error rows: outputs <= eps, hidden neurons <= their cap, stability of assumed-stable neurons.
std::vector<ErrorRow> error_rows(const SynthesisProblem& p, bool nearest) {
  const floatnet::FloatNetwork& net = *p.net;
  const ErrorGains& gains = *p.gains;
  const size_t layers = net.layers.size();
  std::vector<ErrorRow> rows;
  const auto make_row = [&](const ErrorGains& of, size_t l, const Eigen::MatrixXd& gain, int64_t i, double cap,
                            const std::string& name) {
    ErrorRow row{std::vector<double>(layers + 1, 0.0), std::vector<double>(layers + 1, 0.0),
                 std::vector<double>(layers + 1, 0.0), cap, name};
    for (int64_t j = 0; j < of.inputs; ++j) row.f[0] += gain(i, j);
    for (size_t m = 1; m <= l + 1; ++m) {
      const floatnet::DenseLayer& source = net.layers[m - 1];
      for (int64_t k = 0; k < source.outputs(); ++k) {
        const double gk = gain(i, of.source(m - 1, k));
        row.f[m] += gk * (source.activation == floatnet::Activation::kClippedRelu ? 2.0 : 1.0);
        if (nearest) row.a[m] += gk;
        row.w[m] += gk * of.input_magnitude[m - 1][static_cast<size_t>(k)];
      }
    }
    rows.push_back(std::move(row));
  };
  for (size_t l = 0; l < layers; ++l)
    for (int64_t i = 0; i < gains.gain[l].rows(); ++i) {
      const size_t ui = static_cast<size_t>(i);
      const std::string name = std::to_string(l + 1) + "_" + std::to_string(i);
      double cap = l + 1 == layers ? p.target : p.bounds->layers[l][ui].value.cap;
      const double slack = gains.stable_slack[l][ui];
      if (std::isfinite(slack)) { // stability as the gains assume it (eq. (20d))
        if (gains.dead[l][ui])
          make_row(gains, l, gains.pre_gain[l], i, slack, "stable" + name);
        else
          cap = std::min(cap, slack);
      }
      if (l + 1 < layers || gains.parts.empty()) {
        make_row(gains, l, gains.gain[l], i, cap, "error" + name);
        continue;
      }
      // Over a partitioned box, each output's error bound in each part (section 5.1): the worst gains of
      // all parts together would ask for more bits than any one part needs.
      const size_t first = rows.size();
      for (size_t part = 0; part < gains.parts.size(); ++part)
        make_row(gains.parts[part], l, gains.parts[part].gain[l], i, cap,
                 "error" + name + "_part" + std::to_string(part));
      drop_dominated(rows, first);
    }
  return rows;
}

/// The one-hot fractional bits of every layer: F (stored values; index 0: inputs), Fw (weights) and
/// Fa (accumulators; index 0 unused).
struct FormatVariables {
  std::vector<OneHot> frac, frac_w, frac_a;
};

/// Adds the format variables with their domains (eq. (41): at most what the word sizes allow, at
/// least what each term alone needs to stay below the cap of every row it appears in) and the
/// alignment constraints Fa = Fw + F_prev, F <= Fa (eq. (40)). Returns false, with
/// result.infeasible_reason set, when a domain is empty.
bool add_format_variables(LinearProgram& lp, const SynthesisProblem& p, const LayerIntegerBits& ints,
                          const std::vector<ErrorRow>& rows, int r, bool nearest, FormatVariables& v,
                          MethodResult& result) {
  const size_t layers = p.net->layers.size();
  std::vector<int> f_lo(layers + 1, std::numeric_limits<int>::min()), a_lo = f_lo, w_lo = f_lo;
  const auto need = [](double coefficient, double cap, int shift) {
    return coefficient > 0 ? static_cast<int>(std::ceil(std::log2(coefficient / cap))) - shift
                           : std::numeric_limits<int>::min();
  };
  for (const ErrorRow& row : rows)
    for (size_t m = 0; m <= layers; ++m) {
      f_lo[m] = std::max(f_lo[m], need(row.f[m], row.cap, rate_shift(m, r, nearest)));
      a_lo[m] = std::max(a_lo[m], need(row.a[m], row.cap, 1));
      w_lo[m] = std::max(w_lo[m], need(row.w[m], row.cap, r));
    }
  const auto too_coarse = [&](size_t l, const std::string& what, int need_bits, int max_bits, const std::string& word) {
    result.infeasible_reason = layer_name(l) + ": its " + what + " need at least " + std::to_string(need_bits) +
                               " fractional bits for the error bound, " + word + " leaves " + std::to_string(max_bits);
  };
  v.frac.assign(layers + 1, OneHot{});
  v.frac_w.assign(layers + 1, OneHot{});
  v.frac_a.assign(layers + 1, OneHot{});
  for (size_t l = 0; l <= layers; ++l) {
    const int hi = p.word - ints.storage[l];
    int lo = std::max({hi - kDomainSpan, 1 - ints.storage[l], f_lo[l]});
    if (l == 0)
      for (const auto& input : p.bounds->inputs) lo = std::max(lo, -input.cap_exponent - r); // input errors <= cap
    if (hi < lo) {
      too_coarse(
          l, l == 0 ? "inputs" : "outputs", lo, hi,
          "W = " + std::to_string(p.word) + " (values need " + std::to_string(ints.storage[l]) + " integer bits)");
      return false;
    }
    v.frac[l] = add_one_hot(lp, lo, hi, "F" + std::to_string(l));
  }
  for (size_t l = 1; l <= layers; ++l) {
    const int hi = p.word - 1 - ints.weight[l];
    const int lo = std::max({ints.min_frac_weight[l], hi - kDomainSpan, w_lo[l]});
    if (hi < lo) {
      too_coarse(l, "weights", lo, hi, "W = " + std::to_string(p.word));
      return false;
    }
    v.frac_w[l] = add_one_hot(lp, lo, hi, "Fw" + std::to_string(l));
    const int acc_hi = std::min(v.frac_w[l].hi() + v.frac[l - 1].hi(), p.acc - 1 - ints.acc[l]);
    const int acc_lo = std::max({v.frac_w[l].lo + v.frac[l - 1].lo, a_lo[l], v.frac[l].lo});
    if (acc_hi < acc_lo) {
      too_coarse(l, "accumulators", acc_lo, acc_hi,
                 "A = " + std::to_string(p.acc) + " (sums need " + std::to_string(ints.acc[l] + 1) + " integer bits)");
      return false;
    }
    v.frac_a[l] = add_one_hot(lp, acc_lo, acc_hi, "Fa" + std::to_string(l));
    // Fa = Fw + F_prev (exact products), F <= Fa (eq. (40)).
    std::vector<Term> link = v.frac_a[l].value_terms();
    append(link, v.frac_w[l].value_terms(-1));
    append(link, v.frac[l - 1].value_terms(-1));
    lp.add_constraint(link, Sense::kEqual, 0, "align" + std::to_string(l));
    std::vector<Term> no_left = v.frac[l].value_terms();
    append(no_left, v.frac_a[l].value_terms(-1));
    lp.add_constraint(no_left, Sense::kLessEqual, 0, "no_left_shift" + std::to_string(l));
  }
  return true;
}

/// The error rows as constraints on the rounding magnitudes per layer, in units of eps:
/// rate = sum_k 2^(-k - shift) b_k (eq. (39)).
void add_error_constraints(LinearProgram& lp, const std::vector<ErrorRow>& rows, const FormatVariables& v, double scale,
                           int r, bool nearest) {
  const size_t layers = v.frac.size() - 1;
  const auto rate = [&](const OneHot& h, int shift, const std::string& name) {
    const int variable = lp.add_variable(0, 1e30, 0, false, name);
    std::vector<Term> row{{variable, 1.0}};
    append(row, h.pow2_terms(-scale, shift));
    lp.add_constraint(row, Sense::kEqual, 0, name);
    return variable;
  };
  std::vector<int> rate_f(layers + 1, -1), rate_a(layers + 1, -1), rate_w(layers + 1, -1);
  for (size_t m = 0; m <= layers; ++m) {
    rate_f[m] = rate(v.frac[m], rate_shift(m, r, nearest), "rate_f" + std::to_string(m));
    if (m == 0) continue;
    if (nearest) rate_a[m] = rate(v.frac_a[m], 1, "rate_a" + std::to_string(m));
    rate_w[m] = rate(v.frac_w[m], r, "rate_w" + std::to_string(m));
  }
  for (const ErrorRow& row : rows) {
    std::vector<Term> terms;
    for (size_t m = 0; m <= layers; ++m) {
      if (row.f[m] > 0) terms.push_back({rate_f[m], row.f[m]});
      if (row.a[m] > 0) terms.push_back({rate_a[m], row.a[m]});
      if (row.w[m] > 0) terms.push_back({rate_w[m], row.w[m]});
    }
    if (!terms.empty()) lp.add_constraint(terms, Sense::kLessEqual, row.cap * scale, row.name);
  }
}

/// Cost (eq. (42)-(43)): sum_l n_l n_(l-1) width(Fw_l) width(F_(l-1)). The product of the two
/// one-hot widths is written exactly with y_km = b_k c_m in [0, 1] for every pair of values (b: the
/// one-hot of F_(l-1), c: that of Fw_l) and the transportation equalities sum_m y_km = b_k,
/// sum_k y_km = c_m: with integral b and c they leave only y = b c, and their relaxation is the convex
/// hull of the pairs, so the LP bound of the branch and bound is the true cost of a fractional mix of
/// formats rather than a big-M bound far below it.
void add_multiplier_cost(LinearProgram& lp, const floatnet::FloatNetwork& net, const LayerIntegerBits& ints,
                         const FormatVariables& v) {
  for (size_t l = 1; l < v.frac.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l - 1];
    const double count = static_cast<double>(layer.inputs() * layer.outputs());
    const OneHot& in = v.frac[l - 1];
    const OneHot& weight = v.frac_w[l];
    std::vector<std::vector<Term>> columns(weight.binaries.size());
    for (size_t k = 0; k < in.binaries.size(); ++k) {
      const double width_x = ints.storage[l - 1] + in.lo + static_cast<int>(k);
      std::vector<Term> row{{in.binaries[k], -1.0}};
      for (size_t m = 0; m < weight.binaries.size(); ++m) {
        const double width_w = ints.weight[l] + 1 + weight.lo + static_cast<int>(m);
        const int y = lp.add_variable(0, 1, count * width_x * width_w, false,
                                      "y" + std::to_string(l) + "_" + std::to_string(k) + "_" + std::to_string(m));
        row.push_back({y, 1.0});
        columns[m].push_back({y, 1.0});
      }
      lp.add_constraint(row, Sense::kEqual, 0, "pair_in" + std::to_string(l) + "_" + std::to_string(k));
    }
    for (size_t m = 0; m < weight.binaries.size(); ++m) {
      columns[m].push_back({weight.binaries[m], -1.0});
      lp.add_constraint(columns[m], Sense::kEqual, 0, "pair_w" + std::to_string(l) + "_" + std::to_string(m));
    }
  }
}

/// The finest value a one-hot puts weight on in a relaxed solution.
int finest_value(const OneHot& h, const std::vector<double>& relaxed) {
  int finest = h.lo;
  for (size_t k = 0; k < h.binaries.size(); ++k)
    if (relaxed[static_cast<size_t>(h.binaries[k])] > kSupportTolerance) finest = h.lo + static_cast<int>(k);
  return finest;
}

/// A first solution for the branch and bound (eq. (43a)): the linear relaxation rounded to the
/// finest format that each of its one-hots puts weight on, the accumulators at Fw + F_prev. Every
/// rate 2^-F is then at most the relaxation's mix sum_k 2^-k b_k, so the error rows still hold.
/// Empty when the relaxation has no solution or an accumulator leaves its domain (CBC then searches
/// from nothing). Adds the relaxation's solver time to `seconds`.
std::vector<LinearProgram::NamedValue> rounded_relaxation(const LinearProgram& lp, const FormatVariables& v,
                                                          double time_limit, double& seconds) {
  const LinearProgram::Solution relaxed = lp.solve_relaxation(time_limit);
  seconds += relaxed.seconds;
  if (relaxed.values.empty()) return {};
  std::vector<LinearProgram::NamedValue> start;
  const auto choose = [&](const OneHot& h, int value) {
    for (size_t k = 0; k < h.binaries.size(); ++k)
      start.push_back({lp.name(h.binaries[k]), h.lo + static_cast<int>(k) == value ? 1.0 : 0.0});
  };
  std::vector<int> frac(v.frac.size());
  for (size_t l = 0; l < v.frac.size(); ++l) {
    frac[l] = finest_value(v.frac[l], relaxed.values);
    choose(v.frac[l], frac[l]);
  }
  for (size_t l = 1; l < v.frac.size(); ++l) {
    const int weight = finest_value(v.frac_w[l], relaxed.values);
    const int acc = weight + frac[l - 1];
    if (acc < v.frac_a[l].lo || acc > v.frac_a[l].hi() || frac[l] > acc) return {};
    choose(v.frac_w[l], weight);
    choose(v.frac_a[l], acc);
  }
  return start;
}

} // namespace

MethodResult solve_milp(const SynthesisProblem& p) {
  const floatnet::FloatNetwork& net = *p.net;
  const int r = rounding_exponent(p.rounding);
  const bool nearest = p.rounding == Rounding::kNearest;
  MethodResult result;
  LinearProgram lp;
  const LayerIntegerBits ints = layer_integer_bits(*p.bounds, net.layers.size());
  const std::vector<ErrorRow> rows = error_rows(p, nearest);
  FormatVariables v;
  if (!add_format_variables(lp, p, ints, rows, r, nearest, v, result)) return result;
  add_error_constraints(lp, rows, v, 1.0 / p.eps, r, nearest); // errors are measured in units of eps
  add_multiplier_cost(lp, net, ints, v);

  // The branch and bound starts from the rounded relaxation, else from the previous solution (a re-solve).
  double relaxation_seconds = 0.0;
  std::vector<LinearProgram::NamedValue> start = rounded_relaxation(lp, v, p.time_limit, relaxation_seconds);
  if (start.empty()) start = p.start;
  const LinearProgram::Solution s = solve_recorded(lp, p.time_limit, kRelativeGap, "the MILP", result, start);
  result.solve_seconds += relaxation_seconds;
  if (!result.solved) return result;
  result.plan.input_frac.assign(p.bounds->inputs.size(), v.frac[0].value(s.values));
  for (size_t l = 1; l < v.frac.size(); ++l) {
    const NeuronFormat f{v.frac[l].value(s.values), v.frac_w[l].value(s.values), v.frac_a[l].value(s.values)};
    result.plan.layers.emplace_back(static_cast<size_t>(net.layers[l - 1].outputs()), f);
  }
  return result;
}

} // namespace fxnn::synth
