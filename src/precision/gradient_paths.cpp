#include "fxnn/precision/gradient_paths.h"

#include <algorithm>
#include <stdexcept>

#include "fxnn/nn/layers.h"
#include "fxnn/nn/residual_block.h"

namespace fxnn {

std::string to_string(PathKind kind) {
  switch (kind) {
    case PathKind::kDirect: return "direct";
    case PathKind::kShortcut: return "shortcut";
    case PathKind::kIdentity: return "identity";
  }
  return "direct";
}

PathKind parse_path_kind(const std::string& text) {
  if (text == "direct") return PathKind::kDirect;
  if (text == "shortcut") return PathKind::kShortcut;
  if (text == "identity") return PathKind::kIdentity;
  throw std::invalid_argument("unknown gradient path kind '" + text + "' (expected direct, shortcut or identity)");
}

const WeightSite& GradientTopology::weight(const std::string& layer) const {
  for (const auto& w : weights)
    if (w.layer == layer) return w;
  throw std::out_of_range("no weighted layer '" + layer + "'");
}

const ActivationSite& GradientTopology::activation(const std::string& layer) const {
  for (const auto& a : activations)
    if (a.layer == layer) return a;
  throw std::out_of_range("no activation point '" + layer + "'");
}

int64_t GradientTopology::paths_into(const std::string& weight_layer) const {
  return std::count_if(paths.begin(), paths.end(), [&](const GradientPath& p) { return p.weight_layer == weight_layer; });
}

namespace {

LayerGeometry geometry_of(const QConv2dImpl& conv) {
  const auto& o = conv.options;
  return {o.name(), true, o.in_channels(), o.out_channels(), o.kernel_size(), o.stride(), o.padding()};
}

LayerGeometry geometry_of(const QLinearImpl& fc) {
  return {fc.options.name(), false, fc.options.in_features(), fc.options.out_features()};
}

/// The batch norm's scale and epsilon, whichever dimension it normalizes.
template <typename BatchNorm>
void attach_batch_norm(WeightSite& site, const BatchNorm& bn) {
  site.bn_gamma = bn.options.affine() ? bn.weight : torch::ones({bn.options.num_features()});
  site.bn_eps = bn.options.eps();
}

/// Builds the topology while walking the body in forward order.
class TopologyBuilder {
 public:
  void add_weight(const std::string& layer, const LayerGeometry& geometry, const torch::Tensor& weight,
                  bool is_shortcut = false) {
    WeightSite site;
    site.layer = layer;
    site.geometry = geometry;
    site.weight = weight;
    site.is_shortcut = is_shortcut;
    topology_.weights.push_back(site);
    pending_.push_back(topology_.weights.size() - 1);
  }

  void add_batch_norm(const torch::nn::Module& module) {
    if (pending_.empty()) throw std::invalid_argument("gradient paths: a batch norm that follows no weighted layer");
    auto& site = topology_.weights[pending_.back()];
    if (const auto* bn2 = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module)) attach_batch_norm(site, *bn2);
    if (const auto* bn1 = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module)) attach_batch_norm(site, *bn1);
  }

  /// Every weighted layer since the last activation enters this one (their output gradients pass its mask).
  void add_activation(const std::string& layer, std::optional<double> clip) {
    topology_.activations.push_back({layer, clip});
    for (size_t i : pending_) topology_.weights[i].entry = layer;
    pending_.clear();
    last_activation_ = layer;
  }

  void add_block(const ResidualBlockImpl& block) {
    if (!block.shortcut()) {
      if (!last_activation_)
        throw std::invalid_argument("gradient paths: the identity block " + block.options.name() +
                                    " does not follow a clipped ReLU");
    }
    const std::optional<std::string> feeding = last_activation_;
    add_weight(block.conv1()->options.name(), geometry_of(*block.conv1()), block.conv1()->weight);
    add_batch_norm(*block.bn1());
    add_activation(block.act1()->options.name(), block.act1()->options.clip());
    add_weight(block.conv2()->options.name(), geometry_of(*block.conv2()), block.conv2()->weight);
    add_batch_norm(*block.bn2());
    if (block.shortcut()) {
      add_weight(block.shortcut()->options.name(), geometry_of(*block.shortcut()), block.shortcut()->weight, true);
      add_batch_norm(*block.shortcut_bn());
    }
    add_activation(block.act2()->options.name(), block.act2()->options.clip());
    if (!block.shortcut()) topology_.identity_to[block.act2()->options.name()] = *feeding;
  }

  /// A module that adds no path: its zeros (max-pool, dropout) show in the gradient it passes on. A
  /// residual block after it does not start at an activation, so no identity path crosses it.
  void pass_through() { last_activation_.reset(); }

  GradientTopology finish() {
    if (!pending_.empty())
      throw std::invalid_argument("gradient paths: layer " + topology_.weights[pending_.front()].layer +
                                  " is followed by no activation or gradient point");
    for (const auto& a : topology_.activations) {
      std::vector<std::string> through{a.layer};
      add_paths_from(a.layer, a.layer, through);
    }
    return topology_;
  }

 private:
  void add_paths_from(const std::string& ga_layer, const std::string& at, std::vector<std::string>& through) {
    for (const auto& w : topology_.weights) {
      if (w.entry != at) continue;
      const PathKind kind = through.size() > 1 ? PathKind::kIdentity : w.is_shortcut ? PathKind::kShortcut : PathKind::kDirect;
      topology_.paths.push_back({ga_layer, w.layer, kind, through});
    }
    const auto next = topology_.identity_to.find(at);
    if (next == topology_.identity_to.end()) return;
    through.push_back(next->second);
    add_paths_from(ga_layer, next->second, through);
    through.pop_back();
  }

  GradientTopology topology_;
  std::vector<size_t> pending_;
  std::optional<std::string> last_activation_;
};

} // namespace

GradientTopology gradient_topology(NetworkImpl& network) {
  TopologyBuilder builder;
  for (const auto& named : network.body->named_children()) {
    const auto& module = named.value();
    if (const auto* conv = dynamic_cast<const QConv2dImpl*>(module.get())) {
      builder.add_weight(conv->options.name(), geometry_of(*conv), conv->weight);
    } else if (const auto* fc = dynamic_cast<const QLinearImpl*>(module.get())) {
      builder.add_weight(fc->options.name(), geometry_of(*fc), fc->weight);
    } else if (dynamic_cast<const torch::nn::BatchNorm2dImpl*>(module.get()) ||
               dynamic_cast<const torch::nn::BatchNorm1dImpl*>(module.get())) {
      builder.add_batch_norm(*module);
    } else if (const auto* act = dynamic_cast<const QActivationImpl*>(module.get())) {
      builder.add_activation(act->options.name(), act->options.clip());
    } else if (const auto* logits = dynamic_cast<const GradientPointImpl*>(module.get())) {
      builder.add_activation(logits->quant_points().front()->layer(), std::nullopt);
    } else if (const auto* block = dynamic_cast<const ResidualBlockImpl*>(module.get())) {
      builder.add_block(*block);
    } else if (dynamic_cast<const torch::nn::DropoutImpl*>(module.get()) ||
               dynamic_cast<const torch::nn::MaxPool2dImpl*>(module.get()) ||
               dynamic_cast<const torch::nn::FlattenImpl*>(module.get()) ||
               dynamic_cast<const torch::nn::AdaptiveAvgPool2dImpl*>(module.get())) {
      builder.pass_through();
    } else {
      throw std::invalid_argument("gradient paths: no rule for module " + named.key() + " (" + module->name() + ")");
    }
  }
  return builder.finish();
}

} // namespace fxnn
