#include "fxnn/nn/layers.h"

#include <cmath>

#include "fxnn/nn/quantize_functions.h"

namespace fxnn {

namespace {

QuantPointPtr make_point(const std::string& layer, TensorClass tensor_class) {
  return c10::make_intrusive<QuantPoint>(layer, tensor_class);
}

/// LibTorch's default initialization of linear and conv weights (Kaiming uniform, a = sqrt(5)),
/// whose bound 1/sqrt(fan_in) keeps every weight inside the clipping range [-1, 1].
void default_init(torch::Tensor& weight, torch::Tensor& bias) {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = static_cast<double>(weight.numel() / weight.size(0));
    bias.uniform_(-1.0 / std::sqrt(fan_in), 1.0 / std::sqrt(fan_in));
  }
}

/// y = op(x), reporting x and dL/dy to the observer of the weight point (if any).
template <typename Op>
torch::Tensor observed_linear_map(const torch::Tensor& x, const QuantPointPtr& weight_point, Op op) {
  PointObserver* observer = weight_point->observer();
  if (!observer) return op(x);
  observer->on_forward(*weight_point, x);
  auto y = op(x);
  if (y.requires_grad()) {
    y.register_hook(
        [observer, point = weight_point](const torch::Tensor& grad) { observer->on_backward(*point, grad); });
  }
  return y;
}

} // namespace

QLinearImpl::QLinearImpl(QLinearOptions options_)
    : options(std::move(options_)),
      weight_point_(make_point(options.name(), TensorClass::kWeight)),
      gradient_point_(make_point(options.name(), TensorClass::kWeightGradient)),
      accumulator_point_(make_point(options.name(), TensorClass::kAccumulator)) {
  weight = register_parameter("weight", torch::empty({options.out_features(), options.in_features()}));
  if (options.bias()) bias = register_parameter("bias", torch::empty({options.out_features()}));
  default_init(weight, bias);
}

torch::Tensor QLinearImpl::forward(const torch::Tensor& x) {
  return observed_linear_map(x, weight_point_,
                             [&](const torch::Tensor& in) { return torch::linear(in, weight, bias); });
}

std::vector<QuantPointPtr> QLinearImpl::quant_points() const {
  return {weight_point_, gradient_point_, accumulator_point_};
}

std::vector<WeightQuantization> QLinearImpl::weight_quantizations() const {
  return {{options.name(), weight, weight_point_, gradient_point_, accumulator_point_}};
}

QConv2dImpl::QConv2dImpl(QConv2dOptions options_)
    : options(std::move(options_)),
      weight_point_(make_point(options.name(), TensorClass::kWeight)),
      gradient_point_(make_point(options.name(), TensorClass::kWeightGradient)),
      accumulator_point_(make_point(options.name(), TensorClass::kAccumulator)) {
  const int64_t k = options.kernel_size();
  weight = register_parameter("weight", torch::empty({options.out_channels(), options.in_channels(), k, k}));
  if (options.bias()) bias = register_parameter("bias", torch::empty({options.out_channels()}));
  default_init(weight, bias);
}

torch::Tensor QConv2dImpl::forward(const torch::Tensor& x) {
  return observed_linear_map(x, weight_point_, [&](const torch::Tensor& in) {
    return torch::conv2d(in, weight, bias, options.stride(), options.padding());
  });
}

std::vector<QuantPointPtr> QConv2dImpl::quant_points() const {
  return {weight_point_, gradient_point_, accumulator_point_};
}

std::vector<WeightQuantization> QConv2dImpl::weight_quantizations() const {
  return {{options.name(), weight, weight_point_, gradient_point_, accumulator_point_}};
}

QActivationImpl::QActivationImpl(QActivationOptions options_)
    : options(std::move(options_)),
      activation_point_(make_point(options.name(), TensorClass::kActivation)),
      gradient_point_(make_point(options.name(), TensorClass::kActivationGradient)) {}

torch::Tensor QActivationImpl::forward(const torch::Tensor& x) {
  const auto& spec = activation_point_->spec();
  // An unsigned format whose range ends at or below the clip already is the clipped ReLU: saturation
  // sends x < 0 to 0 and x > max to max, and its straight-through mask is the clipped ReLU's
  // derivative (docs/fixed-point-training.md eq. (4)). One pass instead of two.
  const bool quantizer_clips =
      spec && !spec->format.is_signed && !spec->format.auto_range && spec->scale * spec->format.max() <= options.clip();
  const auto input = quantizer_clips ? x : torch::hardtanh(x, 0.0, options.clip());
  return quantize_activation(input, activation_point_, gradient_point_);
}

std::vector<QuantPointPtr> QActivationImpl::quant_points() const { return {activation_point_, gradient_point_}; }

GradientPointImpl::GradientPointImpl(std::string layer)
    : gradient_point_(make_point(layer, TensorClass::kActivationGradient)) {}

torch::Tensor GradientPointImpl::forward(const torch::Tensor& x) { return quantize_gradient(x, gradient_point_); }

std::vector<QuantPointPtr> GradientPointImpl::quant_points() const { return {gradient_point_}; }

} // namespace fxnn
