#include "fxnn/lowbit/float_layers.h"

#include <stdexcept>

#include "fxnn/nn/layers.h"

namespace fxnn::lowbit {

namespace {

/// y = gamma (z - mean) / sqrt(var + eps) + beta applied to z = W x + b, folded (eq. (4) of
/// docs/lowbit.md): W' = W * a, b' = (b - mean) * a + beta with a = gamma / sqrt(var + eps).
template <typename BatchNorm>
void fold_batch_norm(FloatLayer& layer, const BatchNorm& bn) {
  const auto a = bn.weight.detach().to(torch::kDouble) /
                 (bn.running_var.to(torch::kDouble) + bn.options.eps()).sqrt();
  std::vector<int64_t> view(static_cast<size_t>(layer.weight.dim()), 1);
  view[0] = -1;
  layer.weight = layer.weight * a.view(view);
  layer.bias = (layer.bias - bn.running_mean.to(torch::kDouble)) * a + bn.bias.detach().to(torch::kDouble);
}

FloatLayer weighted(FloatLayer::Kind kind, const std::string& name, const torch::Tensor& weight,
                    const torch::Tensor& bias) {
  FloatLayer l;
  l.kind = kind;
  l.name = name;
  l.weight = weight.detach().to(torch::kDouble).clone();
  l.bias = bias.defined() ? bias.detach().to(torch::kDouble).clone() : torch::zeros({weight.size(0)}, torch::kDouble);
  return l;
}

} // namespace

std::vector<FloatLayer> float_layers(const NetworkImpl& network) {
  torch::NoGradGuard no_grad;
  std::vector<FloatLayer> layers;
  const auto modules = network.body->children();
  int pools = 0;
  for (size_t i = 0; i < modules.size(); ++i) {
    const torch::nn::Module* m = modules[i].get();
    std::optional<FloatLayer> layer;
    if (const auto* conv = dynamic_cast<const QConv2dImpl*>(m)) {
      layer = weighted(FloatLayer::Kind::kConv2d, conv->options.name(), conv->weight, conv->bias);
      layer->kernel = conv->options.kernel_size();
      layer->stride = conv->options.stride();
      layer->padding = conv->options.padding();
    } else if (const auto* fc = dynamic_cast<const QLinearImpl*>(m)) {
      layer = weighted(FloatLayer::Kind::kDense, fc->options.name(), fc->weight, fc->bias);
    }
    if (layer) {
      // The batch norm and the activation that follow belong to this layer.
      if (i + 1 < modules.size()) {
        if (const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(modules[i + 1].get())) fold_batch_norm(*layer, *bn), ++i;
        else if (const auto* bn1 = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(modules[i + 1].get())) fold_batch_norm(*layer, *bn1), ++i;
      }
      if (i + 1 < modules.size())
        if (const auto* act = dynamic_cast<const QActivationImpl*>(modules[i + 1].get())) layer->clip = act->options.clip(), ++i;
      layers.push_back(std::move(*layer));
      continue;
    }
    if (const auto* pool = dynamic_cast<const torch::nn::MaxPool2dImpl*>(m)) {
      const auto& o = pool->options;
      if (o.padding()->at(0) != 0 || o.dilation()->at(0) != 1 || o.kernel_size()->at(0) != o.kernel_size()->at(1))
        throw std::runtime_error("lowbit: max pool " + modules[i]->name() + ": only square windows without padding");
      FloatLayer l;
      l.kind = FloatLayer::Kind::kMaxPool;
      l.name = "pool" + std::to_string(++pools);
      l.kernel = o.kernel_size()->at(0);
      l.stride = o.stride()->at(0);
      layers.push_back(l);
    } else if (dynamic_cast<const torch::nn::FlattenImpl*>(m)) {
      FloatLayer l;
      l.kind = FloatLayer::Kind::kFlatten;
      l.name = "flatten";
      layers.push_back(l);
    } else if (dynamic_cast<const torch::nn::DropoutImpl*>(m) || dynamic_cast<const GradientPointImpl*>(m)) {
      continue; // inference: dropout is the identity; a gradient point does nothing in forward
    } else {
      throw std::runtime_error("lowbit: no low-bit form for module " + modules[i]->name() +
                               " (supported: conv, linear, batch norm, clipped ReLU, max pool, flatten, dropout)");
    }
  }
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
    case FloatLayer::Kind::kFlatten: return x.flatten(1);
  }
  return layer.clip ? y.clamp(0.0, *layer.clip) : y;
}

} // namespace fxnn::lowbit
