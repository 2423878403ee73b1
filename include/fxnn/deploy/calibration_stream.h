#pragma once
// The calibration images flowing through the float network and, node by node as the converter builds
// it, through the integer network (docs/lowbit.md section 4, corrections): for each weighted layer,
// how its integer accumulator relates to the float pre-activation it stands for.

#include <torch/torch.h>

#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/float_layers.h"
#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::lowbit {

/// Per output channel, over the calibration images (and positions): the float pre-activation z of a
/// layer (batch norm folded, before its activation) against the integer accumulator acc of its node.
struct ChannelFit {
  double mean_z = 0, mean_acc = 0;
  double covariance = 0;   // of z and acc
  double variance_acc = 0; // of acc
};

class CalibrationStream {
 public:
  /// `network` holds the nodes built so far (at least the input); the stream starts at the raw pixels.
  CalibrationStream(const data::ImageDataset& images, const data::TransformOptions& transform,
                    const ir::Network& network);

  /// The fit of `node` (its weights; the requantization is not used) to `layer`, both reading the
  /// current tensors.
  std::vector<ChannelFit> fit(const FloatLayer& layer, const ir::Node& node) const;

  /// Moves the float tensor through `layer` (if any) and the integer codes through `node`.
  void advance(const FloatLayer* layer, const ir::Node& node, const ir::Network& network);

 private:
  static constexpr int64_t kBatch = 250;
  torch::Tensor x_;     // float32: the float network's current activation
  torch::Tensor codes_; // int16 or int64: the integer network's current codes
};

} // namespace fxnn::lowbit
