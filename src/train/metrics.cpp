#include "fxnn/train/metrics.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

nlohmann::ordered_json EpochMetrics::to_json() const {
  nlohmann::ordered_json j;
  j["epoch"] = epoch;
  j["lr"] = lr;
  j["train_loss"] = train_loss;
  j["train_acc"] = train_acc;
  j["test_loss"] = test_loss;
  j["test_acc"] = test_acc;
  j["seconds"] = seconds;
  j["gradient_bytes_per_step"] = gradient_bytes_per_step;
  nlohmann::ordered_json sat = nlohmann::ordered_json::object();
  for (const auto& [name, rate] : saturation) sat[name] = rate;
  j["saturation"] = sat;
  return j;
}

EpochMetrics EpochMetrics::from_json(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch").get<int64_t>();
  m.lr = j.at("lr").get<double>();
  // NaN losses of a diverged run are written as null by nlohmann::json.
  auto number = [&](const char* key) { return j.at(key).is_null() ? std::nan("") : j.at(key).get<double>(); };
  m.train_loss = number("train_loss");
  m.train_acc = number("train_acc");
  m.test_loss = number("test_loss");
  m.test_acc = number("test_acc");
  m.seconds = j.at("seconds").get<double>();
  m.gradient_bytes_per_step = j.value("gradient_bytes_per_step", int64_t{0});
  if (j.contains("saturation"))
    for (const auto& [name, rate] : j.at("saturation").items()) m.saturation.emplace_back(name, rate.get<double>());
  return m;
}

std::vector<EpochMetrics> read_metrics(const std::string& path) {
  std::vector<EpochMetrics> epochs;
  if (!std::filesystem::exists(path)) return epochs;
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      epochs.push_back(EpochMetrics::from_json(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(path + ": line " + std::to_string(number) + ": " + e.what());
    }
  }
  return epochs;
}

void write_metrics(const std::string& path, const std::vector<EpochMetrics>& epochs) {
  write_file_atomic(path, [&](std::ostream& out) {
    for (const auto& m : epochs) out << m.to_json().dump() << "\n";
  });
}

} // namespace fxnn
