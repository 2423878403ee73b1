#include "fxnn/nn/residual_block.h"

namespace fxnn {

ResidualBlockImpl::ResidualBlockImpl(ResidualBlockOptions options_) : options(std::move(options_)) {
  const auto& o = options;
  conv1_ = register_module(
      "conv1",
      QConv2d(QConv2dOptions(o.name() + ".conv1", o.in_channels(), o.out_channels(), 3).stride(o.stride()).padding(1)));
  bn1_ = register_module("bn1", torch::nn::BatchNorm2d(o.out_channels()));
  act1_ = register_module("act1", QActivation(QActivationOptions(o.name() + ".conv1").clip(o.clip())));
  dropout_ = register_module("dropout", torch::nn::Dropout(o.dropout()));
  conv2_ = register_module(
      "conv2", QConv2d(QConv2dOptions(o.name() + ".conv2", o.out_channels(), o.out_channels(), 3).padding(1)));
  bn2_ = register_module("bn2", torch::nn::BatchNorm2d(o.out_channels()));
  if (o.stride() != 1 || o.in_channels() != o.out_channels()) {
    shortcut_ =
        register_module("shortcut", QConv2d(QConv2dOptions(o.name() + ".shortcut", o.in_channels(), o.out_channels(), 3)
                                                .stride(o.stride())
                                                .padding(1)));
    shortcut_bn_ = register_module("shortcut_bn", torch::nn::BatchNorm2d(o.out_channels()));
  }
  act2_ = register_module("act2", QActivation(QActivationOptions(o.name() + ".conv2").clip(o.clip())));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  auto y = dropout_(act1_(bn1_(conv1_(x))));
  y = bn2_(conv2_(y));
  const auto skip = shortcut_ ? shortcut_bn_(shortcut_(x)) : x;
  return act2_(y + skip);
}

} // namespace fxnn
