#include "fxnn/nn/layer_geometry.h"

#include "fxnn/nn/layers.h"

namespace fxnn {

int64_t LayerGeometry::output_positions(int64_t height, int64_t width) const {
  if (!is_conv) return 1;
  const int64_t h = (height + 2 * padding - kernel) / stride + 1;
  const int64_t w = (width + 2 * padding - kernel) / stride + 1;
  return h * w;
}

std::vector<LayerGeometry> layer_geometries(NetworkImpl& network) {
  std::vector<LayerGeometry> layers;
  for (const auto& module : network.modules(/*include_self=*/false)) {
    if (const auto* conv = dynamic_cast<const QConv2dImpl*>(module.get())) {
      const auto& o = conv->options;
      layers.push_back({o.name(), true, o.in_channels(), o.out_channels(), o.kernel_size(), o.stride(), o.padding()});
    } else if (const auto* fc = dynamic_cast<const QLinearImpl*>(module.get())) {
      layers.push_back({fc->options.name(), false, fc->options.in_features(), fc->options.out_features()});
    }
  }
  return layers;
}

} // namespace fxnn
