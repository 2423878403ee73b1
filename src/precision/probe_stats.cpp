#include "fxnn/precision/probe_stats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

void GradientTrack::end_epoch() { sigma.push_back(std::sqrt(ema)); }

double GradientTrack::sigma_max() const { return sigma.empty() ? 0.0 : *std::max_element(sigma.begin(), sigma.end()); }

double GradientTrack::sigma_min() const { return sigma.empty() ? 0.0 : *std::min_element(sigma.begin(), sigma.end()); }

namespace {

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
  j["version"] = 1;
  j["config"] = config_name;
  j["seed"] = seed;
  j["epochs"] = epochs;
  j["lr_min"] = lr_min;
  j["j_epoch"] = j_epoch;
  j["noise_samples"] = noise_samples;
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : layers) {
    nlohmann::ordered_json e;
    e["name"] = l.name;
    e["weights"] = l.weights;
    e["has_activation"] = l.has_activation;
    e["has_activation_gradient"] = l.has_activation_gradient;
    e["GW"] = track_json(l.weight_gradient);
    if (l.has_activation_gradient) e["GA"] = track_json(l.activation_gradient);
    e["J_lambda"] = l.j_lambda;
    put_optional(e, "J_lambda_max", l.j_lambda_max);
    put_optional(e, "E_W", l.noise_gain_weight);
    put_optional(e, "E_A", l.noise_gain_activation);
    j["layers"].push_back(e);
  }
  return j;
}

ProbeStats ProbeStats::from_json(const nlohmann::json& j, const std::string& source) {
  try {
    if (j.at("version").get<int>() != 1) throw std::runtime_error("unsupported version");
    ProbeStats s;
    s.config_name = j.at("config").get<std::string>();
    s.seed = j.at("seed").get<uint64_t>();
    s.epochs = j.at("epochs").get<int64_t>();
    s.lr_min = j.at("lr_min").get<double>();
    s.j_epoch = j.at("j_epoch").get<int64_t>();
    s.noise_samples = j.at("noise_samples").get<int64_t>();
    for (const auto& e : j.at("layers")) {
      LayerStats l;
      l.name = e.at("name").get<std::string>();
      l.weights = e.at("weights").get<int64_t>();
      l.has_activation = e.at("has_activation").get<bool>();
      l.has_activation_gradient = e.at("has_activation_gradient").get<bool>();
      l.weight_gradient = track_from(e.at("GW"));
      if (l.has_activation_gradient) l.activation_gradient = track_from(e.at("GA"));
      l.j_lambda = e.at("J_lambda").get<std::vector<double>>();
      l.j_lambda_max = get_optional<double>(e, "J_lambda_max");
      l.noise_gain_weight = get_optional<double>(e, "E_W");
      l.noise_gain_activation = get_optional<double>(e, "E_A");
      s.layers.push_back(std::move(l));
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(source + ": not a probe statistics file (" + e.what() + ")");
  }
}

ProbeStats ProbeStats::load(const std::string& path) {
  const std::string text = read_file(path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path + ": invalid JSON (" + e.what() + ")");
  }
  return from_json(j, path);
}

void ProbeStats::save(const std::string& path) const { write_file_atomic(path, to_json().dump(2) + "\n"); }

LayerStats& ProbeStats::layer(const std::string& name) {
  for (auto& l : layers)
    if (l.name == name) return l;
  throw std::out_of_range("no layer '" + name + "' in the probe statistics");
}

} // namespace fxnn
