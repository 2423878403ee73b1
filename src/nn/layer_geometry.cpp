#include "fxnn/nn/layer_geometry.h"

#include "fxnn/nn/module_walk.h"

namespace fxnn {

int64_t LayerGeometry::output_positions(int64_t height, int64_t width) const {
  if (!is_conv) return 1;
  const int64_t h = (height + 2 * padding - kernel) / stride + 1;
  const int64_t w = (width + 2 * padding - kernel) / stride + 1;
  return h * w;
}

namespace {

/// The weighted layers in forward order; every other module only passes values on.
class GeometryCollector : public ModuleVisitor {
 public:
  void weighted_layer(const WeightedLayer& layer) override { layers.push_back(layer.geometry()); }
  void residual_block(const ResidualBlockImpl& block, const ModuleRef&) override {
    layers.push_back(WeightedLayer::of(*block.conv1(), nullptr, nullptr).geometry());
    layers.push_back(WeightedLayer::of(*block.conv2(), nullptr, nullptr).geometry());
    if (!block.shortcut().is_empty())
      layers.push_back(WeightedLayer::of(*block.shortcut(), nullptr, nullptr).geometry());
  }
  void batch_norm(const BatchNormView&) override {}
  void activation(const QActivationImpl&, const ModuleRef&) override {}
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override {}
  void max_pool(const torch::nn::MaxPool2dImpl&, const ModuleRef&) override {}
  void average_pool(const torch::nn::AdaptiveAvgPool2dImpl&, const ModuleRef&) override {}
  void flatten(const ModuleRef&) override {}
  void dropout(const ModuleRef&) override {}
  void unsupported(const ModuleRef&) override {}

  std::vector<LayerGeometry> layers;
};

} // namespace

std::vector<LayerGeometry> layer_geometries(NetworkImpl& network) {
  GeometryCollector collector;
  walk_modules(network, collector);
  return collector.layers;
}

} // namespace fxnn
