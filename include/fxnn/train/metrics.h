#pragma once
// Per-epoch metrics and the metrics.jsonl file of a run directory.

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace fxnn {

struct EpochMetrics {
  int64_t epoch = 0; // 1-based
  double lr = 0;
  double train_loss = 0, train_acc = 0;
  double test_loss = 0, test_acc = 0;
  double seconds = 0; // wall time of the epoch (training and evaluation)
  /// Payload bytes of the weight-gradient all-reduce of one step, per process (integer codes in FX,
  /// float32 in FL): the communication cost of the plan, measured.
  int64_t gradient_bytes_per_step = 0;
  /// Per quantization point: the fraction of values that saturated during the epoch's training.
  std::vector<std::pair<std::string, double>> saturation;

  nlohmann::ordered_json to_json() const;
  static EpochMetrics from_json(const nlohmann::json& line);
};

/// Reads DIR/metrics.jsonl (missing file: empty). Throws naming the file and line on a bad line.
std::vector<EpochMetrics> read_metrics(const std::string& path);
/// Rewrites the file atomically with these epochs (one JSON object per line).
void write_metrics(const std::string& path, const std::vector<EpochMetrics>& epochs);

} // namespace fxnn
