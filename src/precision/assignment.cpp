#include "fxnn/precision/assignment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

namespace fxnn {

namespace {

constexpr int kMaxCandidate = 32; // B_min candidates tried: 1..32 bits
constexpr double kEmaDecay = 0.9; // the EMA of the gradient variances (spec section 4)

std::string format_number(double x) { return format_general(x, 3); }

std::string power_of_two(int exponent) { return "2^" + std::to_string(exponent); }

void check_positive(double x, const std::string& layer, const std::string& what) {
  if (!(x > 0) || !std::isfinite(x))
    throw std::runtime_error("layer " + layer + ": " + what + " is " + format_number(x) +
                             "; no precision can be derived from it (is the probe run complete?)");
}

/// A signed format of range 2^log2_range and step 2^log2_step (eq. (5)-(10)): B = log2(r / Delta) + 1.
/// When the step allowed is coarser than half the range (B < 2), the narrowest signed word (B = 2,
/// step r/2) is used: its step is finer than allowed, so the criterion still holds, and the rule that
/// set the step becomes the floor.
std::pair<Format, StepRule> signed_format(int log2_range, int log2_step, StepRule rule, const std::string& layer,
                                          const std::string& what) {
  int bits = log2_range - log2_step + 1;
  if (bits < 2) {
    bits = 2;
    rule = StepRule::kFloor;
  }
  if (bits > Format::kMaxBits)
    throw std::runtime_error("layer " + layer + ": " + what + " needs " + std::to_string(bits) + " bits, more than " +
                             std::to_string(Format::kMaxBits));
  return {Format(bits, bits - 1 - log2_range, true), rule};
}

/// The validity bound of the additive-noise model (eq. (16)): a step no coarser than this fraction of the
/// smallest spread of the tensor, the same fraction as the weight gradient's step of eq. (7).
constexpr double kStepToSpread = 0.25;

/// Delta_GA of one G^(A) point (eq. (15), (16)), as a power-of-two exponent, the rule that set it and a
/// description of the numbers it came from.
struct GradientStep {
  int log2_step = 0;
  StepRule rule = StepRule::kNoiseBudget;
  std::string statistic;
};

GradientStep activation_gradient_step(const ProbeStats& stats, const LayerStats& l,
                                      const std::map<std::string, int>& log2_step_gw) {
  const auto& ga = l.activation_gradient;
  check_positive(ga.sigma_min(), l.name, "sigma_min(G^(A))");
  if (l.ga_paths.empty()) throw std::runtime_error("layer " + l.name + ": no back-propagated gain in the statistics");
  // Eq. (15): every path's noise within its weight gradient's budget, split equally between the points
  // whose paths end at the same weight layer.
  std::map<std::string, int> paths_into;
  for (const auto& layer : stats.layers)
    for (const auto& p : layer.ga_paths) ++paths_into[p.weight_layer];
  double budget_step = std::numeric_limits<double>::infinity();
  std::string binding;
  for (const auto& p : l.ga_paths) {
    const double lambda = p.lambda_max();
    if (p.lambda.empty())
      throw std::runtime_error("layer " + l.name + ": no gain measured for its path to " + p.weight_layer);
    if (!(lambda > 0)) continue; // the noise cannot reach this weight gradient
    const double step =
        std::ldexp(1.0, log2_step_gw.at(p.weight_layer)) / std::sqrt(paths_into[p.weight_layer] * lambda);
    if (step < budget_step) {
      budget_step = step;
      binding = p.weight_layer + " (" + p.kind + ", lambda = " + format_number(lambda) +
                (p.crossing.empty() ? std::string() : " with crossing factor " + format_number(p.crossing_mean())) +
                (paths_into[p.weight_layer] > 1 ? ", budget shared by " + std::to_string(paths_into[p.weight_layer])
                                                : std::string()) +
                ")";
    }
  }
  const double validity_step = kStepToSpread * ga.sigma_min(); // eq. (16)
  GradientStep result;
  if (validity_step < budget_step) {
    result.log2_step = floor_log2(validity_step);
    result.rule = StepRule::kValidity;
  } else {
    result.log2_step = floor_log2(budget_step);
    result.rule = StepRule::kNoiseBudget;
  }
  result.statistic =
      "sigma_min = " + format_number(ga.sigma_min()) + ", sigma_max = " + format_number(ga.sigma_max()) +
      "; noise budget allows step " +
      (std::isfinite(budget_step) ? format_number(budget_step) + " via " + binding : std::string("any")) +
      ", validity " + format_number(validity_step);
  return result;
}

/// A chosen format, what it came from and the rule that set its step.
struct Chosen {
  Format format;
  std::string statistic;
  StepRule rule;
};

struct FeedforwardTensor {
  std::string layer;
  TensorClass tensor_class;
  double gain;
  int offset = 0;
};

int min_bits(TensorClass c) { return c == TensorClass::kWeight ? 2 : 1; } // a signed word needs its sign bit

/// Eq. (3)'s offset round(log2 sqrt(E_T / E_min)), ties to even (std::nearbyint in the default rounding
/// mode). Written as log2(E_T / E_min) / 2 so that a ratio 2^(2k+1) gives the tie k + 1/2 exactly.
int equalization_offset(double gain, double e_min) {
  return gain > 0 ? static_cast<int>(std::nearbyint(0.5 * std::log2(gain / e_min))) : 0;
}

/// Sum over T of E_T * Delta_T^2 with Delta_T = 2^(1 - B_T) (eq. (1), (4)).
double mismatch_bound(const std::vector<FeedforwardTensor>& tensors, int b_min) {
  double bound = 0;
  for (const auto& t : tensors) {
    const int bits = std::max(b_min + t.offset, min_bits(t.tensor_class));
    bound += t.gain * std::ldexp(1.0, 2 * (1 - bits));
  }
  return bound;
}

} // namespace

nlohmann::ordered_json Assignment::to_json() const {
  nlohmann::ordered_json j;
  j["target_pm"] = target_pm;
  j["b_min"] = b_min;
  j["bound"] = bound;
  j["candidates"] = nlohmann::ordered_json::array();
  for (const auto& c : candidates) j["candidates"].push_back({{"b_min", c.b_min}, {"bound", c.bound}});
  j["tensors"] = nlohmann::ordered_json::array();
  for (const auto& t : tensors)
    j["tensors"].push_back({{"layer", t.layer},
                            {"class", to_string(t.tensor_class)},
                            {"format", t.format.str()},
                            {"rule", to_string(t.rule)},
                            {"statistic", t.statistic}});
  return j;
}

Assignment Assignment::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    Assignment a;
    a.target_pm = j.at("target_pm").get<double>();
    a.b_min = j.at("b_min").get<int>();
    a.bound = j.at("bound").get<double>();
    for (const auto& c : j.at("candidates"))
      a.candidates.push_back({c.at("b_min").get<int>(), c.at("bound").get<double>()});
    for (const auto& t : j.at("tensors"))
      a.tensors.push_back({t.at("layer").get<std::string>(), parse_tensor_class(t.at("class").get<std::string>()),
                           Format::parse(t.at("format").get<std::string>()), t.at("statistic").get<std::string>(),
                           parse_step_rule(t.at("rule").get<std::string>())});
    return a;
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": not an assignment file (" + e.what() + ")");
  }
}

TextTable assignment_table(const Assignment& assignment) {
  TextTable table({"tensor", "format", "bits", "range", "step", "rule", "from"});
  for (const auto& t : assignment.tensors) {
    const Format& f = t.format;
    table.add_row({t.layer + "." + to_string(t.tensor_class), f.str(), std::to_string(f.bits),
                   (f.is_signed ? "[-" + format_general(f.range()) + ", " : "[0, ") + format_general(f.range()) + ")",
                   power_of_two(-f.frac), to_string(t.rule), t.statistic});
  }
  return table;
}

std::vector<std::string> floored_tensors(const Assignment& assignment) {
  std::vector<std::string> names;
  for (const auto& t : assignment.tensors)
    if (t.rule == StepRule::kFloor) names.push_back(t.layer + "." + to_string(t.tensor_class));
  return names;
}

std::string to_string(StepRule rule) {
  switch (rule) {
    case StepRule::kEqualization: return "equalization";
    case StepRule::kSpread: return "spread";
    case StepRule::kNoiseBudget: return "noise budget";
    case StepRule::kValidity: return "validity";
    case StepRule::kSwamping: return "swamping";
    case StepRule::kFloor: return "floor";
  }
  return "equalization";
}

StepRule parse_step_rule(const std::string& text) {
  for (StepRule r : {StepRule::kEqualization, StepRule::kSpread, StepRule::kNoiseBudget, StepRule::kValidity,
                     StepRule::kSwamping, StepRule::kFloor})
    if (to_string(r) == text) return r;
  throw std::invalid_argument("unknown step rule '" + text + "'");
}

TextTable candidate_table(const Assignment& assignment, double target_pm) {
  TextTable table({"B_min", "p_m bound", "meets target"});
  for (const auto& c : assignment.candidates) {
    table.add_row({std::to_string(c.b_min), format_general(c.bound), c.bound <= target_pm ? "yes" : "no"});
    if (c.b_min >= assignment.b_min + 2) break; // larger candidates only shrink the bound further
  }
  return table;
}

int ceil_log2(double x) { return static_cast<int>(std::ceil(std::log2(x))); }
int floor_log2(double x) { return static_cast<int>(std::floor(std::log2(x))); }

Assignment assign_precisions(const ProbeStats& stats, const AssignOptions& options) {
  if (!(options.target_pm > 0 && options.target_pm < 1))
    throw std::invalid_argument("--target-pm must be in (0, 1), got " + format_number(options.target_pm));
  check_positive(stats.lr_min, "the smallest learning rate", "gamma_min");

  // ---- feedforward tensors: equalization of the noise gains (spec section 3) ----
  std::vector<FeedforwardTensor> feedforward;
  for (const auto& l : stats.layers) {
    if (!l.noise_gain_weight) throw std::runtime_error("layer " + l.name + ": no noise gain E_W in the statistics");
    feedforward.push_back({l.name, TensorClass::kWeight, *l.noise_gain_weight});
    if (l.has_activation) {
      if (!l.noise_gain_activation)
        throw std::runtime_error("layer " + l.name + ": no noise gain E_A in the statistics");
      feedforward.push_back({l.name, TensorClass::kActivation, *l.noise_gain_activation});
    }
  }
  double e_min = std::numeric_limits<double>::infinity();
  for (const auto& t : feedforward)
    if (t.gain > 0) e_min = std::min(e_min, t.gain);
  if (!std::isfinite(e_min)) throw std::runtime_error("every noise gain is zero: nothing to equalize");
  for (auto& t : feedforward) // eq. (3); a zero gain (a tensor the output ignores) gets the base width
    t.offset = equalization_offset(t.gain, e_min);

  Assignment result;
  result.target_pm = options.target_pm;
  for (int b = 1; b <= kMaxCandidate; ++b) {
    result.candidates.push_back({b, mismatch_bound(feedforward, b)});
    if (result.b_min == 0 && result.candidates.back().bound <= options.target_pm) {
      result.b_min = b;
      result.bound = result.candidates.back().bound;
    }
  }
  if (result.b_min == 0)
    throw std::runtime_error("no B_min up to " + std::to_string(kMaxCandidate) +
                             " bits meets p_m <= " + format_number(options.target_pm));

  std::map<std::string, std::map<TensorClass, Chosen>> chosen;
  for (const auto& t : feedforward) {
    const int wanted = result.b_min + t.offset;
    const int bits = std::max(wanted, min_bits(t.tensor_class));
    // Weights: signed, range 1; activations: unsigned, range 2 (spec section 2). Both have step 2^(1-B).
    const Format f =
        t.tensor_class == TensorClass::kWeight ? Format(bits, bits - 1, true) : Format(bits, bits - 1, false);
    chosen[t.layer][t.tensor_class] = {
        f,
        std::string(t.tensor_class == TensorClass::kWeight ? "E_W = " : "E_A = ") + format_number(t.gain) +
            ", offset " + (t.offset >= 0 ? "+" : "") + std::to_string(t.offset) +
            " from B_min = " + std::to_string(result.b_min) +
            (bits > wanted ? " (" + std::to_string(wanted) + " bits raised to the floor)" : ""),
        bits > wanted ? StepRule::kFloor : StepRule::kEqualization};
  }

  // ---- gradients and accumulators (spec sections 4, 5) ----
  const double inflate = 1.0 / std::sqrt(1.0 - kEmaDecay); // sigma~ = sigma_max / sqrt(1 - 0.9), eq. (5)
  std::map<std::string, int> log2_step_gw;
  for (const auto& l : stats.layers) {
    check_positive(l.weight_gradient.sigma_min(), l.name, "sigma_min(G^(W))");
    log2_step_gw[l.name] = floor_log2(l.weight_gradient.sigma_min() * kStepToSpread); // eq. (7)
  }
  for (const auto& l : stats.layers) {
    const auto& gw = l.weight_gradient;
    check_positive(gw.sigma_max(), l.name, "sigma_max(G^(W))");
    const int log2_r_gw = ceil_log2(2 * gw.sigma_max() * inflate); // eq. (6)
    const auto [gw_format, gw_rule] =
        signed_format(log2_r_gw, log2_step_gw[l.name], StepRule::kSpread, l.name, "G^(W)");
    chosen[l.name][TensorClass::kWeightGradient] = {
        gw_format,
        "sigma_max = " + format_number(gw.sigma_max()) + ", sigma_min = " + format_number(gw.sigma_min()) + ": range " +
            power_of_two(log2_r_gw) + ", step " + power_of_two(log2_step_gw[l.name]),
        gw_rule};
    if (l.has_activation_gradient) {
      const auto& ga = l.activation_gradient;
      check_positive(ga.sigma_max(), l.name, "sigma_max(G^(A))");
      const int log2_r_ga = ceil_log2(8 * ga.sigma_max() * inflate); // eq. (8)
      const auto step = activation_gradient_step(stats, l, log2_step_gw);
      const auto [ga_format, ga_rule] = signed_format(log2_r_ga, step.log2_step, step.rule, l.name, "G^(A)");
      chosen[l.name][TensorClass::kActivationGradient] = {
          ga_format, step.statistic + ": range " + power_of_two(log2_r_ga) + ", step " + power_of_two(-ga_format.frac),
          ga_rule};
    }
    const int log2_step_acc = floor_log2(stats.lr_min * std::ldexp(1.0, log2_step_gw[l.name])); // eq. (10)
    const auto [acc_format, acc_rule] = signed_format(0, log2_step_acc, StepRule::kSwamping, l.name, "the accumulator");
    chosen[l.name][TensorClass::kAccumulator] = {
        acc_format, "gamma_min = " + format_number(stats.lr_min) + ", step " + power_of_two(log2_step_acc), acc_rule};
  }

  result.plan.source = "assigned";
  for (const auto& l : stats.layers) {
    LayerOverride entry{l.name, {}};
    for (TensorClass c : kAllTensorClasses) {
      const auto found = chosen[l.name].find(c);
      if (found == chosen[l.name].end()) continue;
      const auto& [format, statistic, rule] = found->second;
      const bool gradient = c == TensorClass::kWeightGradient || c == TensorClass::kActivationGradient;
      entry.specs[c] = QuantizerSpec{format, gradient ? options.gradient_rounding : Rounding::kNearest};
      result.plan.notes[l.name + "." + to_string(c)] = to_string(rule) + ": " + statistic;
      result.tensors.push_back({l.name, c, format, statistic, rule});
    }
    result.plan.layers.push_back(entry);
  }
  return result;
}

} // namespace fxnn
