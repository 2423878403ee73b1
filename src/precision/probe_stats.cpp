#include "fxnn/precision/probe_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

void GradientTrack::end_epoch() { sigma.push_back(std::sqrt(ema)); }

double GradientTrack::sigma_max() const { return sigma.empty() ? 0.0 : *std::max_element(sigma.begin(), sigma.end()); }

double GradientTrack::sigma_min() const { return sigma.empty() ? 0.0 : *std::min_element(sigma.begin(), sigma.end()); }

double PathGainTrack::crossing_mean() const {
  if (crossing.empty()) return 1.0;
  return std::accumulate(crossing.begin(), crossing.end(), 0.0) / static_cast<double>(crossing.size());
}

double PathGainTrack::lambda_max() const {
  return lambda.empty() ? 0.0 : *std::max_element(lambda.begin(), lambda.end()) * crossing_mean();
}

namespace {

/// Version 2: the back-propagated gains of eq. (13) per path replace version 1's lambda_max(J).
constexpr int kVersion = 2;

nlohmann::ordered_json track_json(const GradientTrack& t) {
  nlohmann::ordered_json j;
  j["sigma"] = t.sigma;
  j["sigma_max"] = t.sigma_max();
  j["sigma_min"] = t.sigma_min();
  j["ema"] = t.ema;
  j["iterations"] = t.iterations;
  return j;
}

GradientTrack track_from(const nlohmann::json& j) {
  GradientTrack t;
  t.sigma = j.at("sigma").get<std::vector<double>>();
  t.ema = j.at("ema").get<double>();
  t.iterations = j.at("iterations").get<int64_t>();
  return t;
}

nlohmann::ordered_json path_json(const PathGainTrack& p) {
  nlohmann::ordered_json j;
  j["to"] = p.weight_layer;
  j["kind"] = p.kind;
  j["through"] = p.through;
  j["lambda"] = p.lambda;
  j["lambda_max"] = p.lambda_max();
  if (!p.crossing.empty()) j["crossing"] = p.crossing;
  return j;
}

PathGainTrack path_from(const nlohmann::json& j) {
  PathGainTrack p;
  p.weight_layer = j.at("to").get<std::string>();
  p.kind = j.at("kind").get<std::string>();
  p.through = j.at("through").get<std::vector<std::string>>();
  p.lambda = j.at("lambda").get<std::vector<double>>();
  if (j.contains("crossing")) p.crossing = j.at("crossing").get<std::vector<double>>();
  return p;
}

nlohmann::ordered_json check_json(const GainCheck& c) {
  return {{"to", c.weight_layer},
          {"kind", c.kind},
          {"closed_max", c.closed_max},
          {"injected_at_max", c.injected_at_max},
          {"injected_max", c.injected_max},
          {"closed_total", c.closed_total},
          {"injected_total", c.injected_total}};
}

GainCheck check_from(const nlohmann::json& j) {
  GainCheck c;
  c.weight_layer = j.at("to").get<std::string>();
  c.kind = j.at("kind").get<std::string>();
  c.closed_max = j.at("closed_max").get<double>();
  c.injected_at_max = j.at("injected_at_max").get<double>();
  c.injected_max = j.at("injected_max").get<double>();
  c.closed_total = j.at("closed_total").get<double>();
  c.injected_total = j.at("injected_total").get<double>();
  return c;
}

template <typename T>
void put_optional(nlohmann::ordered_json& j, const char* key, const std::optional<T>& value) {
  if (value) j[key] = *value;
}

template <typename T>
std::optional<T> get_optional(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
  return j.at(key).get<T>();
}

} // namespace

nlohmann::ordered_json ProbeStats::to_json() const {
  nlohmann::ordered_json j;
  j["version"] = kVersion;
  j["config"] = config_name;
  j["seed"] = seed;
  j["epochs"] = epochs;
  j["lr_min"] = lr_min;
  j["noise_samples"] = noise_samples;
  j["injection_draws"] = injection_draws;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) {
    nlohmann::ordered_json e;
    e["name"] = l.name;
    e["weights"] = l.weights;
    e["has_activation"] = l.has_activation;
    e["has_activation_gradient"] = l.has_activation_gradient;
    e["GW"] = track_json(l.weight_gradient);
    if (l.has_activation_gradient) e["GA"] = track_json(l.activation_gradient);
    if (l.has_activation_gradient) {
      e["GA_paths"] = nlohmann::ordered_json::array();
      for (const auto& p : l.ga_paths) e["GA_paths"].push_back(path_json(p));
      e["GA_checks"] = nlohmann::ordered_json::array();
      for (const auto& c : l.ga_checks) e["GA_checks"].push_back(check_json(c));
    }
    put_optional(e, "E_W", l.noise_gain_weight);
    put_optional(e, "E_A", l.noise_gain_activation);
    j["layers"].push_back(e);
  }
  return j;
}

ProbeStats ProbeStats::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    const int version = j.at("version").get<int>();
    if (version != kVersion)
      throw std::runtime_error("version " + std::to_string(version) + ", this fxnn reads version " +
                               std::to_string(kVersion) + "; run the probe again");
    ProbeStats s;
    s.config_name = j.at("config").get<std::string>();
    s.seed = j.at("seed").get<uint64_t>();
    s.epochs = j.at("epochs").get<int64_t>();
    s.lr_min = j.at("lr_min").get<double>();
    s.noise_samples = j.at("noise_samples").get<int64_t>();
    s.injection_draws = j.at("injection_draws").get<int64_t>();
    for (const auto& e : j.at("layers")) {
      LayerStats l;
      l.name = e.at("name").get<std::string>();
      l.weights = e.at("weights").get<int64_t>();
      l.has_activation = e.at("has_activation").get<bool>();
      l.has_activation_gradient = e.at("has_activation_gradient").get<bool>();
      l.weight_gradient = track_from(e.at("GW"));
      if (l.has_activation_gradient) l.activation_gradient = track_from(e.at("GA"));
      if (l.has_activation_gradient) {
        for (const auto& p : e.at("GA_paths")) l.ga_paths.push_back(path_from(p));
        for (const auto& c : e.at("GA_checks")) l.ga_checks.push_back(check_from(c));
      }
      l.noise_gain_weight = get_optional<double>(e, "E_W");
      l.noise_gain_activation = get_optional<double>(e, "E_A");
      s.layers.push_back(std::move(l));
    }
    return s;
  } catch (const std::exception& e) {
    throw std::runtime_error(source + ": not a probe statistics file (" + e.what() + ")");
  }
}

ProbeStats ProbeStats::load(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) { throw std::runtime_error(path + ": invalid JSON (" + e.what() + ")"); }
  return from_json(j, path);
}

void ProbeStats::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

LayerStats& ProbeStats::layer(const std::string& name) {
  return const_cast<LayerStats&>(static_cast<const ProbeStats&>(*this).layer(name));
}

const LayerStats& ProbeStats::layer(const std::string& name) const {
  for (const auto& l : layers)
    if (l.name == name) return l;
  throw std::out_of_range("no layer '" + name + "' in the probe statistics");
}

} // namespace fxnn
