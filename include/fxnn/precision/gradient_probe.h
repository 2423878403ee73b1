#pragma once
// The measurements the float probe run takes while it trains (spec section 4):
// the EMA of the per-minibatch variance of every G^(W) and G^(A), and the matrices J_l.

#include <map>
#include <string>

#include "fxnn/nn/network.h"
#include "fxnn/precision/probe_stats.h"
#include "fxnn/train/training_observer.h"

namespace fxnn {

class GradientProbe : public TrainingObserver, public PointObserver {
 public:
  /// Attaches to the network's GA points. j_epoch: the epoch after which lambda_max(J) is taken.
  GradientProbe(NetworkImpl& network, int64_t j_epoch);
  ~GradientProbe() override;
  GradientProbe(const GradientProbe&) = delete;
  GradientProbe& operator=(const GradientProbe&) = delete;

  void on_epoch_start(int64_t epoch, NetworkImpl& network, const data::Batch& first_batch) override;
  void on_gradients(NetworkImpl& network) override;
  void on_epoch_end(int64_t epoch, NetworkImpl& network) override;
  void save_state(const std::string& run_dir) const override;
  void load_state(const std::string& run_dir) override;

  void on_forward(const QuantPoint& point, const torch::Tensor& value) override;
  void on_backward(const QuantPoint& point, const torch::Tensor& gradient) override;

  /// The statistics so far (layers in network order; noise gains not filled in).
  const ProbeStats& stats() const { return stats_; }

 private:
  void measure_j(NetworkImpl& network, const data::Batch& batch);

  NetworkImpl& network_;
  ProbeStats stats_;
  std::map<std::string, torch::Tensor> j_ema_;       // layer -> EMA of M_l [C_in, C_out]
  std::map<std::string, int64_t> j_updates_;
  std::map<std::string, torch::Tensor> activations_; // layer -> A_l while measuring J
  bool capturing_activations_ = false;
};

} // namespace fxnn
