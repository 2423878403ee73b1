#include "fxnn/deploy/float_layers.h"

#include <cmath>
#include <stdexcept>

#include "fxnn/deploy/batch_norm_fold.h"
#include "fxnn/nn/module_walk.h"

namespace fxnn::lowbit {

namespace {

/// The layers in evaluation order: conv/dense with their batch norm folded in (deploy/batch_norm_fold.h)
/// and their clipped ReLU, max pooling and flatten; dropout and gradient points are identities.
class FloatLayerCollector : public ModuleVisitor {
 public:
  void weighted_layer(const WeightedLayer& layer) override {
    const FoldedLayer folded = fold_batch_norm(layer);
    FloatLayer l;
    l.kind = layer.is_conv() ? FloatLayer::Kind::kConv2d : FloatLayer::Kind::kDense;
    l.name = layer.name();
    l.weight = folded.weight;
    l.bias = folded.bias;
    if (layer.conv) {
      l.kernel = layer.conv->options.kernel_size();
      l.stride = layer.conv->options.stride();
      l.padding = layer.conv->options.padding();
    }
    if (layer.activation) l.clip = layer.activation->options.clip();
    layers.push_back(std::move(l));
  }

  void max_pool(const torch::nn::MaxPool2dImpl& pool, const ModuleRef& where) override {
    const auto& o = pool.options;
    if (o.padding()->at(0) != 0 || o.dilation()->at(0) != 1 || o.kernel_size()->at(0) != o.kernel_size()->at(1))
      throw std::runtime_error("lowbit: max pool " + where.module->name() + ": only square windows without padding");
    FloatLayer l;
    l.kind = FloatLayer::Kind::kMaxPool;
    l.name = "pool" + std::to_string(++pools_);
    l.kernel = o.kernel_size()->at(0);
    l.stride = o.stride()->at(0);
    layers.push_back(l);
  }

  void flatten(const ModuleRef&) override {
    FloatLayer l;
    l.kind = FloatLayer::Kind::kFlatten;
    l.name = "flatten";
    layers.push_back(l);
  }

  // Inference: dropout is the identity; a gradient point does nothing in forward.
  void dropout(const ModuleRef&) override {}
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override {}

  void unsupported(const ModuleRef& where) override {
    throw std::runtime_error("lowbit: no low-bit form for module " + where.module->name() +
                             " (supported: conv, linear, batch norm, clipped ReLU, max pool, flatten, dropout)");
  }

  std::vector<FloatLayer> layers;

 private:
  int pools_ = 0;
};

/// Every hidden weighted layer has its activation, the output layer none, and the chain ends in it.
void check_chain(const std::vector<FloatLayer>& layers) {
  for (size_t i = 0; i < layers.size(); ++i) {
    const bool last_weighted = [&] {
      for (size_t j = i + 1; j < layers.size(); ++j)
        if (layers[j].weighted()) return false;
      return true;
    }();
    if (layers[i].weighted() && !layers[i].clip && !last_weighted)
      throw std::runtime_error("lowbit: layer " + layers[i].name + " has no activation and is not the output layer");
    if (layers[i].weighted() && layers[i].clip && last_weighted)
      throw std::runtime_error("lowbit: the output layer " + layers[i].name + " must give logits (no activation)");
  }
  if (layers.empty() || !layers.back().weighted())
    throw std::runtime_error("lowbit: the network must end in a conv or linear layer (the logits)");
}

FloatLayer::Kind kind_of(floatnet::ImportedLayer::Kind kind) {
  switch (kind) {
    case floatnet::ImportedLayer::Kind::kConv2d: return FloatLayer::Kind::kConv2d;
    case floatnet::ImportedLayer::Kind::kDense: return FloatLayer::Kind::kDense;
    case floatnet::ImportedLayer::Kind::kMaxPool: return FloatLayer::Kind::kMaxPool;
    case floatnet::ImportedLayer::Kind::kAvgPool: return FloatLayer::Kind::kAvgPool;
    case floatnet::ImportedLayer::Kind::kFlatten: return FloatLayer::Kind::kFlatten;
  }
  throw std::logic_error("unknown imported layer kind");
}

} // namespace

std::vector<FloatLayer> float_layers(const NetworkImpl& network) {
  torch::NoGradGuard no_grad;
  FloatLayerCollector collector;
  walk_modules(network, collector);
  check_chain(collector.layers);
  return collector.layers;
}

std::vector<FloatLayer> float_layers(const floatnet::ImportedNetwork& network, const InputShape& input) {
  const std::vector<int64_t> image{input.channels, input.height, input.width};
  const bool flat = network.input_shape == std::vector<int64_t>{input.channels * input.height * input.width};
  if (network.input_shape != image && !flat) {
    std::string dims;
    for (int64_t d : network.input_shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
    throw std::runtime_error(network.source + ": the network takes " + dims + " inputs, the data set gives " +
                             std::to_string(input.channels) + "x" + std::to_string(input.height) + "x" +
                             std::to_string(input.width) + " images");
  }
  std::vector<FloatLayer> layers;
  for (const auto& imported : network.layers) {
    FloatLayer l;
    l.kind = kind_of(imported.kind);
    l.name = imported.name;
    if (imported.weighted()) {
      l.weight = torch::tensor(imported.weight, torch::kDouble).view(imported.weight_shape).clone();
      l.bias = torch::tensor(imported.bias, torch::kDouble);
    }
    l.kernel = imported.kernel;
    l.stride = imported.stride;
    l.padding = imported.padding;
    l.clip = imported.clip;
    layers.push_back(std::move(l));
  }
  check_chain(layers);
  const int64_t classes = layers.back().weight.size(0);
  if (classes != input.num_classes)
    throw std::runtime_error(network.source + ": the network gives " + std::to_string(classes) +
                             " outputs, the data set has " + std::to_string(input.num_classes) + " classes");
  return layers;
}

torch::Tensor forward(const FloatLayer& layer, const torch::Tensor& x) {
  torch::Tensor y;
  switch (layer.kind) {
    case FloatLayer::Kind::kConv2d:
      y = torch::conv2d(x, layer.weight.to(x.dtype()), layer.bias.to(x.dtype()), layer.stride, layer.padding);
      break;
    case FloatLayer::Kind::kDense: y = torch::linear(x, layer.weight.to(x.dtype()), layer.bias.to(x.dtype())); break;
    case FloatLayer::Kind::kMaxPool: return torch::max_pool2d(x, layer.kernel, layer.stride);
    case FloatLayer::Kind::kAvgPool: return torch::avg_pool2d(x, layer.kernel, layer.stride);
    case FloatLayer::Kind::kFlatten: return x.flatten(1);
  }
  if (!layer.clip) return y;
  return std::isinf(*layer.clip) ? y.clamp_min(0.0) : y.clamp(0.0, *layer.clip);
}

} // namespace fxnn::lowbit
