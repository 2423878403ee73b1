#include "fxnn/precision/gradient_paths.h"

#include <algorithm>
#include <stdexcept>

#include "fxnn/nn/module_walk.h"

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
  return std::count_if(paths.begin(), paths.end(),
                       [&](const GradientPath& p) { return p.weight_layer == weight_layer; });
}

namespace {

/// A residual block's convolution as a weighted layer (its geometry).
LayerGeometry geometry_of(const QConv2dImpl& conv) { return WeightedLayer::of(conv, nullptr, nullptr).geometry(); }

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

  /// The batch norm's scale and epsilon, whichever dimension it normalizes.
  void add_batch_norm(const BatchNormView& bn) {
    if (pending_.empty()) throw std::invalid_argument("gradient paths: a batch norm that follows no weighted layer");
    auto& site = topology_.weights[pending_.back()];
    site.bn_gamma = bn.gamma();
    site.bn_eps = bn.eps;
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
    add_batch_norm(*batch_norm_view({"bn1", block.bn1().get()}));
    add_activation(block.act1()->options.name(), block.act1()->options.clip());
    add_weight(block.conv2()->options.name(), geometry_of(*block.conv2()), block.conv2()->weight);
    add_batch_norm(*batch_norm_view({"bn2", block.bn2().get()}));
    if (block.shortcut()) {
      add_weight(block.shortcut()->options.name(), geometry_of(*block.shortcut()), block.shortcut()->weight, true);
      add_batch_norm(*batch_norm_view({"shortcut_bn", block.shortcut_bn().get()}));
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
      const PathKind kind = through.size() > 1 ? PathKind::kIdentity
                            : w.is_shortcut    ? PathKind::kShortcut
                                               : PathKind::kDirect;
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

/// The walk of the body (nn/module_walk.h) told to the builder, module by module in forward order.
class TopologyVisitor : public ModuleVisitor {
 public:
  void weighted_layer(const WeightedLayer& layer) override {
    builder.add_weight(layer.name(), layer.geometry(), layer.weight());
    if (layer.batch_norm) builder.add_batch_norm(*layer.batch_norm);
    if (layer.activation) activation(*layer.activation, layer.where);
  }
  void batch_norm(const BatchNormView& bn) override { builder.add_batch_norm(bn); }
  void activation(const QActivationImpl& act, const ModuleRef&) override {
    builder.add_activation(act.options.name(), act.options.clip());
  }
  void gradient_point(const GradientPointImpl& logits, const ModuleRef&) override {
    builder.add_activation(logits.quant_points().front()->layer(), std::nullopt);
  }
  void residual_block(const ResidualBlockImpl& block, const ModuleRef&) override { builder.add_block(block); }
  void dropout(const ModuleRef&) override { builder.pass_through(); }
  void max_pool(const torch::nn::MaxPool2dImpl&, const ModuleRef&) override { builder.pass_through(); }
  void flatten(const ModuleRef&) override { builder.pass_through(); }
  void average_pool(const torch::nn::AdaptiveAvgPool2dImpl&, const ModuleRef&) override { builder.pass_through(); }
  void unsupported(const ModuleRef& where) override {
    throw std::invalid_argument("gradient paths: no rule for module " + where.key + " (" + where.module->name() + ")");
  }

  TopologyBuilder builder;
};

} // namespace

GradientTopology gradient_topology(NetworkImpl& network) {
  TopologyVisitor visitor;
  walk_modules(network, visitor);
  return visitor.builder.finish();
}

} // namespace fxnn
