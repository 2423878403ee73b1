#pragma once
// The shape of each weighted layer's linear map, for measurements and cost models.

#include <string>
#include <vector>

#include "fxnn/nn/network.h"

namespace fxnn {

struct LayerGeometry {
  std::string name;
  bool is_conv = false;
  int64_t in_channels = 0;  // input features of a fully connected layer
  int64_t out_channels = 0; // output features of a fully connected layer
  int64_t kernel = 1, stride = 1, padding = 0;

  /// Output positions of a convolution on an input of height x width (1 for a fully connected layer).
  int64_t output_positions(int64_t height, int64_t width) const;
  /// Length of one output's dot product: C_in k^2 (or in_features).
  int64_t dot_length() const { return in_channels * kernel * kernel; }
};

/// Every QConv2d/QLinear of the network, in layer order (residual blocks: conv1, conv2, shortcut).
std::vector<LayerGeometry> layer_geometries(NetworkImpl& network);

} // namespace fxnn
