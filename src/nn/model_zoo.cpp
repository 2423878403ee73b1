#include "fxnn/nn/model_zoo.h"

#include <cmath>
#include <stdexcept>

#include "fxnn/nn/layers.h"
#include "fxnn/nn/residual_block.h"

namespace fxnn {

namespace {

int64_t scaled(int64_t units, double width) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::lround(static_cast<double>(units) * width)));
}

/// Appends layers to a Sequential while keeping track of the running shape and of names.
class Builder {
 public:
  Builder(const ModelOptions& options, const InputShape& input)
      : options_(options), channels_(input.channels), height_(input.height), width_(input.width) {}

  void conv(const std::string& name, int64_t out_channels) {
    body_->push_back(QConv2d(QConv2dOptions(name, channels_, out_channels, 3).padding(1).bias(!options_.batch_norm)));
    channels_ = out_channels;
    if (options_.batch_norm) body_->push_back(torch::nn::BatchNorm2d(out_channels));
    body_->push_back(QActivation(QActivationOptions(name).clip(options_.activation_clip)));
  }

  void max_pool() {
    if (height_ < 2 || width_ < 2) throw std::invalid_argument("model: input too small for another 2x2 max pool");
    body_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
    height_ /= 2;
    width_ /= 2;
  }

  void flatten() {
    body_->push_back(torch::nn::Flatten());
    features_ = channels_ * height_ * width_;
  }

  void hidden_fc(const std::string& name, int64_t units) {
    body_->push_back(QLinear(QLinearOptions(name, features_, units).bias(!options_.batch_norm)));
    features_ = units;
    if (options_.batch_norm) body_->push_back(torch::nn::BatchNorm1d(units));
    body_->push_back(QActivation(QActivationOptions(name).clip(options_.activation_clip)));
    if (options_.dropout > 0) body_->push_back(torch::nn::Dropout(options_.dropout));
  }

  void output_fc(const std::string& name, int64_t classes) {
    body_->push_back(QLinear(QLinearOptions(name, features_, classes)));
    body_->push_back(GradientPoint(name));
  }

  void residual_stage(int stage, int64_t out_channels, int64_t stride) {
    for (int b = 1; b <= 3; ++b) {
      const std::string name = "s" + std::to_string(stage) + "b" + std::to_string(b);
      const int64_t s = b == 1 ? stride : 1;
      body_->push_back(ResidualBlock(ResidualBlockOptions(name, channels_, out_channels)
                                         .stride(s)
                                         .dropout(options_.dropout)
                                         .clip(options_.activation_clip)));
      channels_ = out_channels;
      height_ = (height_ - 1) / s + 1;
      width_ = (width_ - 1) / s + 1;
    }
  }

  void global_average_pool() {
    body_->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({1, 1})));
    height_ = width_ = 1;
  }

  torch::nn::Sequential body() const { return body_; }

 private:
  const ModelOptions& options_;
  torch::nn::Sequential body_;
  int64_t channels_, height_, width_;
  int64_t features_ = 0;
};

} // namespace

Network make_network(const ModelOptions& options, const InputShape& input) {
  if (options.width <= 0)
    throw std::invalid_argument("model.width must be positive, got " + std::to_string(options.width));
  if (options.dropout < 0 || options.dropout >= 1)
    throw std::invalid_argument("model.dropout must be in [0, 1), got " + std::to_string(options.dropout));
  Builder b(options, input);
  const double c = options.width;
  if (options.arch == "mlp") {
    b.flatten();
    int i = 1;
    for (int64_t units : options.hidden) b.hidden_fc("fc" + std::to_string(i++), scaled(units, c));
    b.output_fc("fc" + std::to_string(i), input.num_classes);
  } else if (options.arch == "cnn") {
    b.conv("conv1", scaled(32, c));
    b.max_pool();
    b.conv("conv2", scaled(64, c));
    b.max_pool();
    b.flatten();
    b.hidden_fc("fc1", scaled(256, c));
    b.output_fc("fc2", input.num_classes);
  } else if (options.arch == "convnet") {
    const int64_t widths[] = {128, 128, 256, 256, 512, 512};
    for (int i = 0; i < 6; ++i) {
      b.conv("conv" + std::to_string(i + 1), scaled(widths[i], c));
      if (i % 2 == 1) b.max_pool();
    }
    b.flatten();
    b.hidden_fc("fc1", scaled(1024, c));
    b.hidden_fc("fc2", scaled(1024, c));
    b.output_fc("fc3", input.num_classes);
  } else if (options.arch == "resnet20") {
    b.conv("conv1", scaled(128, c));
    b.residual_stage(1, scaled(128, c), 1);
    b.residual_stage(2, scaled(256, c), 2);
    b.residual_stage(3, scaled(512, c), 2);
    b.global_average_pool();
    b.flatten();
    b.output_fc("fc", input.num_classes);
  } else {
    throw std::invalid_argument("model.arch: unknown architecture '" + options.arch +
                                "' (expected mlp, cnn, convnet or resnet20)");
  }
  return Network(b.body());
}

} // namespace fxnn
