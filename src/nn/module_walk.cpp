#include "fxnn/nn/module_walk.h"

#include <vector>

namespace fxnn {

namespace {

template <typename BatchNorm>
BatchNormView view_of(const BatchNorm& bn, const ModuleRef& where, bool two_d) {
  BatchNormView v;
  v.where = where;
  v.two_d = two_d;
  v.affine = bn.options.affine();
  v.weight = bn.weight;
  v.bias = bn.bias;
  v.running_mean = bn.running_mean;
  v.running_var = bn.running_var;
  v.eps = bn.options.eps();
  v.num_features = bn.options.num_features();
  return v;
}

} // namespace

torch::Tensor BatchNormView::gamma() const { return affine ? weight : torch::ones({num_features}); }

std::optional<BatchNormView> batch_norm_view(const ModuleRef& where) {
  if (const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(where.module)) return view_of(*bn, where, true);
  if (const auto* bn = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(where.module)) return view_of(*bn, where, false);
  return std::nullopt;
}

WeightedLayer WeightedLayer::of(const QConv2dImpl& conv, const torch::nn::BatchNorm2dImpl* batch_norm,
                                const QActivationImpl* activation) {
  WeightedLayer layer;
  layer.where = {conv.options.name(), &conv};
  layer.conv = &conv;
  if (batch_norm) layer.batch_norm = batch_norm_view({conv.options.name() + ".bn", batch_norm});
  layer.activation = activation;
  return layer;
}

const std::string& WeightedLayer::name() const { return conv ? conv->options.name() : linear->options.name(); }
const torch::Tensor& WeightedLayer::weight() const { return conv ? conv->weight : linear->weight; }
const torch::Tensor& WeightedLayer::bias() const { return conv ? conv->bias : linear->bias; }
const QuantPointPtr& WeightedLayer::weight_point() const {
  return conv ? conv->weight_point() : linear->weight_point();
}
int64_t WeightedLayer::out_channels() const {
  return conv ? conv->options.out_channels() : linear->options.out_features();
}

LayerGeometry WeightedLayer::geometry() const {
  if (conv) {
    const auto& o = conv->options;
    return {o.name(), true, o.in_channels(), o.out_channels(), o.kernel_size(), o.stride(), o.padding()};
  }
  return {linear->options.name(), false, linear->options.in_features(), linear->options.out_features()};
}

void walk_modules(const NetworkImpl& network, ModuleVisitor& visitor) {
  const auto children = network.body->named_children();
  std::vector<ModuleRef> modules;
  for (const auto& named : children) modules.push_back({named.key(), named.value().get()});
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleRef& m = modules[i];
    const auto* conv = dynamic_cast<const QConv2dImpl*>(m.module);
    const auto* linear = dynamic_cast<const QLinearImpl*>(m.module);
    if (conv || linear) {
      WeightedLayer layer;
      layer.where = m;
      layer.conv = conv;
      layer.linear = linear;
      // The batch norm and the activation that follow belong to this layer.
      if (i + 1 < modules.size() && (layer.batch_norm = batch_norm_view(modules[i + 1]))) ++i;
      if (i + 1 < modules.size() && (layer.activation = dynamic_cast<const QActivationImpl*>(modules[i + 1].module)))
        ++i;
      visitor.weighted_layer(layer);
    } else if (const auto bn = batch_norm_view(m)) {
      visitor.batch_norm(*bn);
    } else if (const auto* act = dynamic_cast<const QActivationImpl*>(m.module)) {
      visitor.activation(*act, m);
    } else if (const auto* point = dynamic_cast<const GradientPointImpl*>(m.module)) {
      visitor.gradient_point(*point, m);
    } else if (const auto* block = dynamic_cast<const ResidualBlockImpl*>(m.module)) {
      visitor.residual_block(*block, m);
    } else if (const auto* pool = dynamic_cast<const torch::nn::MaxPool2dImpl*>(m.module)) {
      visitor.max_pool(*pool, m);
    } else if (const auto* avg = dynamic_cast<const torch::nn::AdaptiveAvgPool2dImpl*>(m.module)) {
      visitor.average_pool(*avg, m);
    } else if (dynamic_cast<const torch::nn::FlattenImpl*>(m.module)) {
      visitor.flatten(m);
    } else if (dynamic_cast<const torch::nn::DropoutImpl*>(m.module)) {
      visitor.dropout(m);
    } else {
      visitor.unsupported(m);
    }
  }
}

} // namespace fxnn
