#pragma once
// What a layer tells the rest of fxnn about its quantization points.

#include <torch/torch.h>

#include <vector>

#include "fxnn/nn/quant_point.h"

namespace fxnn {

/// A weight tensor and the three points that govern it: W (the weights the layer computes with),
/// GW (their gradient, quantized before the update) and acc (the accumulator the update writes).
struct WeightQuantization {
  std::string layer;
  torch::Tensor weight;
  QuantPointPtr weight_point;
  QuantPointPtr gradient_point;
  QuantPointPtr accumulator_point;
};

/// Implemented by every module that owns quantization points.
class QuantizedLayer {
 public:
  virtual ~QuantizedLayer() = default;
  /// The points owned directly by this module (not by its children).
  virtual std::vector<QuantPointPtr> quant_points() const = 0;
  /// The weight tensors owned directly by this module.
  virtual std::vector<WeightQuantization> weight_quantizations() const { return {}; }
};

} // namespace fxnn
