#pragma once
// A network of fxnn layers: a sequential body plus access to its quantization points.

#include <torch/torch.h>

#include <vector>

#include "fxnn/nn/quantized_layer.h"

namespace fxnn {

class NetworkImpl : public torch::nn::Module {
 public:
  explicit NetworkImpl(torch::nn::Sequential body);
  torch::Tensor forward(const torch::Tensor& x);

  /// Every quantization point, in the order of the layers.
  std::vector<QuantPointPtr> quant_points() const;
  /// Every quantized weight tensor with its W, GW and acc points.
  std::vector<WeightQuantization> weight_quantizations() const;
  /// The parameters that stay in float (biases, batch norm).
  std::vector<torch::Tensor> float_parameters() const;
  /// Layer names in order (the prefixes of the point names).
  std::vector<std::string> layer_names() const;

  torch::nn::Sequential body;
};
TORCH_MODULE(Network);

} // namespace fxnn
