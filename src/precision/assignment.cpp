#include "fxnn/precision/assignment.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

namespace fxnn {

namespace {

constexpr int kMaxCandidate = 32;        // B_min candidates tried: 1..32 bits
constexpr double kEmaDecay = 0.9;        // the EMA of the gradient variances (spec section 4)

std::string format_number(double x) { return format_general(x, 3); }

std::string power_of_two(int exponent) { return "2^" + std::to_string(exponent); }

void check_positive(double x, const std::string& layer, const std::string& what) {
  if (!(x > 0) || !std::isfinite(x))
    throw std::runtime_error("layer " + layer + ": " + what + " is " + format_number(x) +
                             "; no precision can be derived from it (is the probe run complete?)");
}

/// A signed format of range 2^log2_range and step 2^log2_step (eq. (5)-(9)): B = log2(r / Delta) + 1.
/// When the step allowed is coarser than half the range (B < 2), the narrowest signed word (B = 2,
/// step r/2) is used: its step is finer than allowed, so the criterion still holds.
Format signed_format(int log2_range, int log2_step, const std::string& layer, const std::string& what) {
  const int bits = std::max(log2_range - log2_step + 1, 2);
  if (bits > Format::kMaxBits)
    throw std::runtime_error("layer " + layer + ": " + what + " needs " + std::to_string(bits) + " bits, more than " +
                             std::to_string(Format::kMaxBits));
  return Format(bits, bits - 1 - log2_range, true);
}

struct FeedforwardTensor {
  std::string layer;
  TensorClass tensor_class;
  double gain;
  int offset = 0;
};

int min_bits(TensorClass c) { return c == TensorClass::kWeight ? 2 : 1; } // a signed word needs its sign bit

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
    j["tensors"].push_back(
        {{"layer", t.layer}, {"class", to_string(t.tensor_class)}, {"format", t.format.str()}, {"statistic", t.statistic}});
  return j;
}

Assignment Assignment::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    Assignment a;
    a.target_pm = j.at("target_pm").get<double>();
    a.b_min = j.at("b_min").get<int>();
    a.bound = j.at("bound").get<double>();
    for (const auto& c : j.at("candidates")) a.candidates.push_back({c.at("b_min").get<int>(), c.at("bound").get<double>()});
    for (const auto& t : j.at("tensors"))
      a.tensors.push_back({t.at("layer").get<std::string>(), parse_tensor_class(t.at("class").get<std::string>()),
                           Format::parse(t.at("format").get<std::string>()), t.at("statistic").get<std::string>()});
    return a;
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": not an assignment file (" + e.what() + ")");
  }
}

TextTable assignment_table(const Assignment& assignment) {
  TextTable table({"tensor", "format", "bits", "range", "step", "from"});
  for (const auto& t : assignment.tensors) {
    const Format& f = t.format;
    table.add_row({t.layer + "." + to_string(t.tensor_class), f.str(), std::to_string(f.bits),
                   (f.is_signed ? "[-" + format_general(f.range()) + ", " : "[0, ") + format_general(f.range()) + ")",
                   power_of_two(-f.frac), t.statistic});
  }
  return table;
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
      if (!l.noise_gain_activation) throw std::runtime_error("layer " + l.name + ": no noise gain E_A in the statistics");
      feedforward.push_back({l.name, TensorClass::kActivation, *l.noise_gain_activation});
    }
  }
  double e_min = std::numeric_limits<double>::infinity();
  for (const auto& t : feedforward)
    if (t.gain > 0) e_min = std::min(e_min, t.gain);
  if (!std::isfinite(e_min)) throw std::runtime_error("every noise gain is zero: nothing to equalize");
  for (auto& t : feedforward) // eq. (3); a zero gain (a tensor the output ignores) gets the base width
    t.offset = t.gain > 0 ? static_cast<int>(std::lround(std::log2(std::sqrt(t.gain / e_min)))) : 0;

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
    throw std::runtime_error("no B_min up to " + std::to_string(kMaxCandidate) + " bits meets p_m <= " +
                             format_number(options.target_pm));

  std::map<std::string, std::map<TensorClass, std::pair<Format, std::string>>> chosen;
  for (const auto& t : feedforward) {
    const int bits = std::max(result.b_min + t.offset, min_bits(t.tensor_class));
    // Weights: signed, range 1; activations: unsigned, range 2 (spec section 2). Both have step 2^(1-B).
    const Format f = t.tensor_class == TensorClass::kWeight ? Format(bits, bits - 1, true) : Format(bits, bits - 1, false);
    chosen[t.layer][t.tensor_class] = {
        f, std::string(t.tensor_class == TensorClass::kWeight ? "E_W = " : "E_A = ") + format_number(t.gain) +
               ", offset " + (t.offset >= 0 ? "+" : "") + std::to_string(t.offset) + " from B_min = " +
               std::to_string(result.b_min)};
  }

  // ---- gradients and accumulators (spec sections 4, 5) ----
  const double inflate = 1.0 / std::sqrt(1.0 - kEmaDecay); // sigma~ = sigma_max / sqrt(1 - 0.9), eq. (5)
  for (const auto& l : stats.layers) {
    const auto& gw = l.weight_gradient;
    check_positive(gw.sigma_max(), l.name, "sigma_max(G^(W))");
    check_positive(gw.sigma_min(), l.name, "sigma_min(G^(W))");
    const int log2_r_gw = ceil_log2(2 * gw.sigma_max() * inflate);  // eq. (6)
    const int log2_step_gw = floor_log2(gw.sigma_min() / 4);       // eq. (7)
    chosen[l.name][TensorClass::kWeightGradient] = {
        signed_format(log2_r_gw, log2_step_gw, l.name, "G^(W)"),
        "sigma_max = " + format_number(gw.sigma_max()) + ", sigma_min = " + format_number(gw.sigma_min()) +
            ": range " + power_of_two(log2_r_gw) + ", step " + power_of_two(log2_step_gw)};
    if (l.has_activation_gradient) {
      const auto& ga = l.activation_gradient;
      check_positive(ga.sigma_max(), l.name, "sigma_max(G^(A))");
      if (!l.j_lambda_max) throw std::runtime_error("layer " + l.name + ": no lambda_max(J) in the statistics");
      check_positive(*l.j_lambda_max, l.name, "lambda_max(J)");
      const int log2_r_ga = ceil_log2(8 * ga.sigma_max() * inflate);                                    // eq. (8)
      const int log2_step_ga = floor_log2(std::ldexp(1.0, log2_step_gw) / std::sqrt(*l.j_lambda_max)); // eq. (9)
      chosen[l.name][TensorClass::kActivationGradient] = {
          signed_format(log2_r_ga, log2_step_ga, l.name, "G^(A)"),
          "sigma_max = " + format_number(ga.sigma_max()) + ", lambda_max(J) = " + format_number(*l.j_lambda_max) +
              ": range " + power_of_two(log2_r_ga) + ", step " + power_of_two(log2_step_ga)};
    }
    const int log2_step_acc = floor_log2(stats.lr_min * std::ldexp(1.0, log2_step_gw)); // eq. (10)
    chosen[l.name][TensorClass::kAccumulator] = {
        signed_format(0, log2_step_acc, l.name, "the accumulator"),
        "gamma_min = " + format_number(stats.lr_min) + ", step " + power_of_two(log2_step_acc)};
  }

  result.plan.source = "assigned";
  for (const auto& l : stats.layers) {
    LayerOverride entry{l.name, {}};
    for (TensorClass c : kAllTensorClasses) {
      const auto found = chosen[l.name].find(c);
      if (found == chosen[l.name].end()) continue;
      const auto& [format, statistic] = found->second;
      entry.specs[c] = QuantizerSpec{format, Rounding::kNearest};
      result.plan.notes[l.name + "." + to_string(c)] = statistic;
      result.tensors.push_back({l.name, c, format, statistic});
    }
    result.plan.layers.push_back(entry);
  }
  return result;
}

} // namespace fxnn
