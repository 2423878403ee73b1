#pragma once
// Layers of fixed-point networks (docs/fixed-point-training.md section 3).
//
// Weights are stored already quantized: the optimizer keeps the accumulator W_acc and writes
// W = Q_W(W_acc) after every step (spec section 5), so a layer's forward uses its weight as is.
// Activations are quantized in forward (A) and their gradients in backward (GA) by QActivation.
// Batch norm and biases stay in float, as in the method's reference.

#include <torch/torch.h>

#include <string>

#include "fxnn/nn/quantized_layer.h"

namespace fxnn {

struct QLinearOptions {
  QLinearOptions(std::string name, int64_t in_features, int64_t out_features)
      : name_(std::move(name)), in_features_(in_features), out_features_(out_features) {}
  TORCH_ARG(std::string, name);
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
};

class QLinearImpl : public torch::nn::Module, public QuantizedLayer {
 public:
  explicit QLinearImpl(QLinearOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  std::vector<QuantPointPtr> quant_points() const override;
  std::vector<WeightQuantization> weight_quantizations() const override;
  const QuantPointPtr& weight_point() const { return weight_point_; }

  QLinearOptions options;
  torch::Tensor weight; // [out, in]
  torch::Tensor bias;   // [out] (float), undefined when options.bias() is false

 private:
  QuantPointPtr weight_point_, gradient_point_, accumulator_point_;
};
TORCH_MODULE(QLinear);

struct QConv2dOptions {
  QConv2dOptions(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : name_(std::move(name)), in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(std::string, name);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, padding) = 0;
  TORCH_ARG(bool, bias) = false;
};

class QConv2dImpl : public torch::nn::Module, public QuantizedLayer {
 public:
  explicit QConv2dImpl(QConv2dOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  std::vector<QuantPointPtr> quant_points() const override;
  std::vector<WeightQuantization> weight_quantizations() const override;
  const QuantPointPtr& weight_point() const { return weight_point_; }

  QConv2dOptions options;
  torch::Tensor weight; // [out, in, k, k]
  torch::Tensor bias;

 private:
  QuantPointPtr weight_point_, gradient_point_, accumulator_point_;
};
TORCH_MODULE(QConv2d);

struct QActivationOptions {
  explicit QActivationOptions(std::string name) : name_(std::move(name)) {}
  /// The layer whose output this is: the points are `<name>.A` and `<name>.GA`.
  TORCH_ARG(std::string, name);
  /// Clipped ReLU min(max(x, 0), clip): 2 in the method (spec section 2).
  TORCH_ARG(double, clip) = 2.0;
};

/// Clipped ReLU, then A = Q_A (straight-through inside the range), then the G^(A) point.
class QActivationImpl : public torch::nn::Module, public QuantizedLayer {
 public:
  explicit QActivationImpl(QActivationOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  std::vector<QuantPointPtr> quant_points() const override;
  const QuantPointPtr& activation_point() const { return activation_point_; }

  QActivationOptions options;

 private:
  QuantPointPtr activation_point_, gradient_point_;
};
TORCH_MODULE(QActivation);

/// A G^(A) point alone: where a layer's output gradient is quantized but its output is not (logits).
class GradientPointImpl : public torch::nn::Module, public QuantizedLayer {
 public:
  explicit GradientPointImpl(std::string layer);
  torch::Tensor forward(const torch::Tensor& x);
  std::vector<QuantPointPtr> quant_points() const override;

 private:
  QuantPointPtr gradient_point_;
};
TORCH_MODULE(GradientPoint);

} // namespace fxnn
