#pragma once
// The measurements the float probe run takes while it trains (docs/precision-assignment.md section 1):
// the EMA of the per-minibatch variance of every G^(W) and G^(A), and after every epoch the
// back-propagated noise gain of every G^(A) -> G^(W) path (backprop_gain.h).

#include <optional>
#include <string>

#include "fxnn/nn/network.h"
#include "fxnn/precision/probe_stats.h"
#include "fxnn/train/training_observer.h"

namespace fxnn {

class GradientProbe : public TrainingObserver, public PointObserver {
 public:
  /// Attaches to the network's GA points.
  explicit GradientProbe(NetworkImpl& network);
  ~GradientProbe() override;
  GradientProbe(const GradientProbe&) = delete;
  GradientProbe& operator=(const GradientProbe&) = delete;

  void on_epoch_start(int64_t epoch, NetworkImpl& network, const data::Batch& first_batch) override;
  void on_gradients(NetworkImpl& network) override;
  void on_epoch_end(int64_t epoch, NetworkImpl& network) override;
  void save_state(const std::string& run_dir) const override;
  void load_state(const std::string& run_dir) override;

  void on_forward(const QuantPoint&, const torch::Tensor&) override {}
  void on_backward(const QuantPoint& point, const torch::Tensor& gradient) override;

  /// The statistics so far (layers in network order; noise gains E and the injection check not filled in).
  const ProbeStats& stats() const { return stats_; }

 private:
  /// The closed-form gain of every path on the epoch's first batch, appended to the tracks.
  void measure_backprop_gains(NetworkImpl& network);

  NetworkImpl& network_;
  ProbeStats stats_;
  std::optional<data::Batch> epoch_batch_; // the epoch's first batch, on which the gains are measured
};

} // namespace fxnn
