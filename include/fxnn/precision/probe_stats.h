#pragma once
// What the float probe run measures for the precision assignment: DIR/stats.json
// (docs/precision-assignment.md section 2).

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace fxnn {

/// The gradient statistic of spec section 4 for one tensor: s <- 0.9 s + 0.1 var(g) every iteration,
/// sqrt(s) recorded at the end of each epoch.
struct GradientTrack {
  double ema = 0;                  // s
  int64_t iterations = 0;
  std::vector<double> sigma;       // sqrt(s) at each epoch end
  void add(double variance) {
    ema = 0.9 * ema + 0.1 * variance;
    ++iterations;
  }
  void end_epoch();
  double sigma_max() const;
  double sigma_min() const;
};

/// One weighted layer of the network and its measurements.
struct LayerStats {
  std::string name;
  int64_t weights = 0;              // elements of W
  bool has_activation = false;      // an A point (hidden layers)
  bool has_activation_gradient = false; // a GA point
  GradientTrack weight_gradient;    // G^(W)
  GradientTrack activation_gradient;// G^(A) (when has_activation_gradient)
  std::vector<double> j_lambda;     // largest singular value of the bias-corrected EMA of J_l, per measurement
  std::optional<double> j_lambda_max; // the value used: after epoch j_epoch (or the last measurement)
  std::optional<double> noise_gain_weight;     // E_W
  std::optional<double> noise_gain_activation; // E_A
};

struct ProbeStats {
  std::string config_name;
  uint64_t seed = 0;
  int64_t epochs = 0;
  double lr_min = 0;        // gamma_min of spec section 5
  int64_t j_epoch = 5;
  int64_t noise_samples = 0;
  std::vector<LayerStats> layers;

  nlohmann::ordered_json to_json() const;
  static ProbeStats from_json(const nlohmann::json& j, const std::string& source);
  static ProbeStats load(const std::string& path);
  void save(const std::string& path) const;
  LayerStats& layer(const std::string& name);
};

} // namespace fxnn
