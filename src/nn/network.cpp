#include "fxnn/nn/network.h"

#include <algorithm>

namespace fxnn {

namespace {

std::vector<const QuantizedLayer*> quantized_layers(const torch::nn::Module& root) {
  std::vector<const QuantizedLayer*> layers;
  for (const auto& module : root.modules(/*include_self=*/false))
    if (const auto* layer = dynamic_cast<const QuantizedLayer*>(module.get())) layers.push_back(layer);
  return layers;
}

} // namespace

NetworkImpl::NetworkImpl(torch::nn::Sequential body_) : body(register_module("body", std::move(body_))) {}

torch::Tensor NetworkImpl::forward(const torch::Tensor& x) { return body->forward(x); }

std::vector<QuantPointPtr> NetworkImpl::quant_points() const {
  std::vector<QuantPointPtr> points;
  for (const auto* layer : quantized_layers(*this))
    for (auto& p : layer->quant_points()) points.push_back(p);
  return points;
}

std::vector<WeightQuantization> NetworkImpl::weight_quantizations() const {
  std::vector<WeightQuantization> weights;
  for (const auto* layer : quantized_layers(*this))
    for (auto& w : layer->weight_quantizations()) weights.push_back(w);
  return weights;
}

std::vector<torch::Tensor> NetworkImpl::float_parameters() const {
  const auto weights = weight_quantizations();
  std::vector<torch::Tensor> result;
  for (const auto& p : parameters()) {
    const bool is_weight =
        std::any_of(weights.begin(), weights.end(), [&](const WeightQuantization& w) { return w.weight.is_same(p); });
    if (!is_weight) result.push_back(p);
  }
  return result;
}

std::vector<std::string> NetworkImpl::layer_names() const {
  std::vector<std::string> names;
  for (const auto& p : quant_points())
    if (std::find(names.begin(), names.end(), p->layer()) == names.end()) names.push_back(p->layer());
  return names;
}

} // namespace fxnn
