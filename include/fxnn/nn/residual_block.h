#pragma once
// The residual block of the wide ResNet-20 (spec section 8).

#include <torch/torch.h>

#include "fxnn/nn/layers.h"

namespace fxnn {

struct ResidualBlockOptions {
  ResidualBlockOptions(std::string name, int64_t in_channels, int64_t out_channels)
      : name_(std::move(name)), in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(std::string, name);
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(double, dropout) = 0.2;
  TORCH_ARG(double, clip) = 2.0;
};

/// conv1 -> BN -> act -> dropout -> conv2 -> BN -> (+ shortcut) -> act.
/// The shortcut is the identity, or, when the shape changes, a 3x3 stride-s convolution + BN
/// (the projection of the method's ResNet). Points: <name>.conv1.*, <name>.conv2.* (its A is the
/// block output, after the addition), <name>.shortcut.{W,GW,acc}.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockImpl(ResidualBlockOptions options);
  torch::Tensor forward(const torch::Tensor& x);

  ResidualBlockOptions options;

  // The parts, for exporters (read-only use). shortcut() is empty for an identity shortcut.
  const QConv2d& conv1() const { return conv1_; }
  const QConv2d& conv2() const { return conv2_; }
  const QConv2d& shortcut() const { return shortcut_; }
  const torch::nn::BatchNorm2d& bn1() const { return bn1_; }
  const torch::nn::BatchNorm2d& bn2() const { return bn2_; }
  const torch::nn::BatchNorm2d& shortcut_bn() const { return shortcut_bn_; }
  const QActivation& act1() const { return act1_; }
  const QActivation& act2() const { return act2_; }

 private:
  QConv2d conv1_{nullptr}, conv2_{nullptr}, shortcut_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, shortcut_bn_{nullptr};
  QActivation act1_{nullptr}, act2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(ResidualBlock);

} // namespace fxnn
