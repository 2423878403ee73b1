#pragma once
// A float-trained fxnn network as the low-bit converter sees it (docs/lowbit.md, section 3): its
// weighted layers with batch norm folded into weights and bias (eq. (4)), each followed by its
// clipped ReLU, and the max pooling, average pooling and flatten between them. The layers come from
// an fxnn network or from an ONNX file (floatnet/onnx_layer_import.h).

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "fxnn/floatnet/onnx_layer_import.h"
#include "fxnn/nn/model_zoo.h"
#include "fxnn/nn/network.h"

namespace fxnn::lowbit {

struct FloatLayer {
  enum class Kind { kConv2d, kDense, kMaxPool, kAvgPool, kFlatten };
  Kind kind = Kind::kDense;
  std::string name;
  torch::Tensor weight; // float64 [O, I, k, k] or [O, I], batch norm folded in
  torch::Tensor bias;   // float64 [O], batch norm folded in
  int64_t kernel = 1, stride = 1, padding = 0;
  /// The clipped ReLU [0, clip] that follows (+infinity: a plain ReLU); none: the output layer (logits).
  std::optional<double> clip;

  bool weighted() const { return kind == Kind::kConv2d || kind == Kind::kDense; }
};

/// The layers of the network in evaluation order. Throws std::runtime_error naming the module when
/// it has no low-bit form (residual blocks, average pooling) or when a hidden layer has no activation.
std::vector<FloatLayer> float_layers(const NetworkImpl& network);

/// The layers of an imported ONNX network, checked like those of an fxnn network. Throws
/// std::runtime_error naming the file when the network does not take the images of `input`.
std::vector<FloatLayer> float_layers(const floatnet::ImportedNetwork& network, const InputShape& input);

/// One layer in float64 (the folded weights: equal to the LibTorch modules in eval mode up to
/// float rounding). `x` is [N, ...].
torch::Tensor forward(const FloatLayer& layer, const torch::Tensor& x);

} // namespace fxnn::lowbit
