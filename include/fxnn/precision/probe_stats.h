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
  double ema = 0; // s
  int64_t iterations = 0;
  std::vector<double> sigma; // sqrt(s) at each epoch end
  void add(double variance) {
    ema = 0.9 * ema + 0.1 * variance;
    ++iterations;
  }
  void end_epoch();
  double sigma_max() const;
  double sigma_min() const;
};

/// The back-propagated noise gain of one G^(A) -> G^(W) path (gradient_paths.h), measured after every
/// epoch: the largest element of eq. (13) of docs/precision-assignment.md and, on an identity path, the
/// crossing factor of eq. (18).
struct PathGainTrack {
  std::string weight_layer;         // whose G^(W) receives the noise
  std::string kind;                 // direct | shortcut | identity
  std::vector<std::string> through; // the activations whose masks the path passes, the point's own first
  std::vector<double> lambda;       // eq. (13)'s largest element after each epoch
  std::vector<double> crossing;     // after each epoch, identity paths (eq. (18)); empty for the others
  double crossing_mean() const;     // over the epochs; 1 without any
  double lambda_max() const;        // the largest lambda times crossing_mean(): what the assignment uses
};

/// The closed form against the measurement by noise injection, on the final network (`fxnn probe`).
struct GainCheck {
  std::string weight_layer;
  std::string kind;           // a path kind, or "weights" for a layer the noise reaches only through weights
  double closed_max = 0;      // largest element of eq. (13); 0 for "weights"
  double injected_at_max = 0; // the measured gain of that element
  double injected_max = 0;    // largest measured element
  double closed_total = 0;    // sums over the weight's elements
  double injected_total = 0;
};

/// One weighted layer of the network and its measurements.
struct LayerStats {
  std::string name;
  int64_t weights = 0;                     // elements of W
  bool has_activation = false;             // an A point (hidden layers)
  bool has_activation_gradient = false;    // a GA point
  GradientTrack weight_gradient;           // G^(W)
  GradientTrack activation_gradient;       // G^(A) (when has_activation_gradient)
  std::vector<PathGainTrack> ga_paths;     // where the noise of this layer's G^(A) goes (when has_activation_gradient)
  std::vector<GainCheck> ga_checks;        // the closed form checked by noise injection (after the run)
  std::optional<double> noise_gain_weight; // E_W
  std::optional<double> noise_gain_activation; // E_A
};

struct ProbeStats {
  std::string config_name;
  uint64_t seed = 0;
  int64_t epochs = 0;
  double lr_min = 0; // gamma_min of spec section 5
  int64_t noise_samples = 0;
  int64_t injection_draws = 0; // draws of the noise-injection check (0: not made)
  std::vector<LayerStats> layers;

  nlohmann::ordered_json to_json() const;
  static ProbeStats from_json(const nlohmann::json& j, const std::string& source);
  static ProbeStats load(const std::string& path);
  void save(const std::string& path) const;
  LayerStats& layer(const std::string& name);
  const LayerStats& layer(const std::string& name) const;
};

} // namespace fxnn
