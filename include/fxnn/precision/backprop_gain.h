#pragma once
// The back-propagated noise gain of every activation-gradient point: the variance that noise of unit
// variance on the point's nonzero elements adds to each element of a weight gradient
// (docs/precision-assignment.md section 3.2). Computed two ways: in closed form, eq. (13), for the
// paths of gradient_paths.h, and measured by injecting noise into G^(A) (the map is linear), for
// every weight layer the noise reaches.

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/nn/network.h"
#include "fxnn/precision/gradient_paths.h"
#include "fxnn/precision/probe_stats.h"

namespace fxnn {

/// The gain of one path as the assignment uses it (eq. (18) of docs/precision-assignment.md).
struct PathGain {
  double closed_max = 0; // the largest element of eq. (13)
  double crossing = 1;   // identity paths: all the point's noise at the layer (injection) over the chain's (eq. (13))
};

/// One forward pass and one backward pass of a batch as a training step sees them, kept for the gains:
/// batch norm normalizes with the batch's statistics (its running statistics are restored afterwards),
/// dropout is off (its mask would only scale the gains by 1 - p), the loss is the mean cross-entropy.
/// The network's mode, buffers and point observers are restored when this object is destroyed, and
/// nothing accumulates into .grad: a probe that measures gains trains exactly as a plain float run.
class BackpropGains {
 public:
  BackpropGains(NetworkImpl& network, const data::Batch& batch);
  ~BackpropGains();
  BackpropGains(const BackpropGains&) = delete;
  BackpropGains& operator=(const BackpropGains&) = delete;

  const GradientTopology& topology() const { return topology_; }

  /// Eq. (13) for one path, element by element: a tensor shaped like the weight of path.weight_layer.
  torch::Tensor closed_form(const GradientPath& path) const;

  /// The measurement: the mean over `draws` of G^(W)^2 when the only gradient is uniform noise of unit
  /// variance on the nonzero elements of G^(A) at `ga_layer`, for every weight layer it reaches
  /// (keyed by layer; shaped like the weight).
  std::map<std::string, torch::Tensor> injected(const std::string& ga_layer, int64_t draws, uint64_t seed) const;

  /// The gain of every path (in topology().paths order) as the assignment uses it, eq. (18).
  std::vector<PathGain> path_gains(int64_t crossing_draws, uint64_t seed) const;

 private:
  NetworkImpl& network_;
  GradientTopology topology_;
  bool was_training_ = false;
  std::vector<torch::Tensor> saved_buffers_;
  std::vector<std::pair<QuantPointPtr, PointObserver*>> saved_observers_;
  std::unique_ptr<PointObserver> capture_;            // outlives the graph: the layers' backward hooks call it
  std::map<std::string, torch::Tensor> activations_;  // A at each G^(A) point (in the graph)
  std::map<std::string, torch::Tensor> nonzero_;      // where dL/dA is nonzero, as 0/1 (double)
  std::map<std::string, torch::Tensor> layer_inputs_; // X of each weighted layer (double)
};

/// For every G^(A) point, on one batch: the closed form of each of its paths beside the injection
/// measurement (`draws` draws), and the layers its noise reaches only through weights, keyed by the
/// point's layer (what `fxnn probe` prints and stats.json keeps).
std::map<std::string, std::vector<GainCheck>> check_backprop_gains(NetworkImpl& network, const data::Batch& batch,
                                                                   int64_t draws, uint64_t seed);

} // namespace fxnn
