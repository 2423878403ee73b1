#pragma once
// The networks fxnn builds from a config (docs/models.md).

#include <string>
#include <vector>

#include "fxnn/nn/network.h"

namespace fxnn {

/// Filled from the `model:` section of a config; the input shape and class count come from the data.
struct ModelOptions {
  /// mlp | cnn | convnet | resnet20
  std::string arch = "cnn";
  /// Width multiplier applied to every hidden layer's channels or units.
  double width = 1.0;
  /// mlp: hidden layer sizes (before the width multiplier).
  std::vector<int64_t> hidden = {256, 256};
  /// Dropout rate: between the hidden FC layers (mlp, cnn, convnet), between the two convolutions of a
  /// residual block (resnet20; the method uses 0.2).
  double dropout = 0.0;
  /// Batch norm after every hidden conv/FC layer (kept in float; folded at export).
  bool batch_norm = true;
  /// Clipped ReLU upper bound (the activation range of the method is [0, 2]).
  double activation_clip = 2.0;
};

struct InputShape {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
  int64_t num_classes = 10;
};

/// Builds the network; throws std::invalid_argument naming a bad arch or a shape it cannot take.
/// Architectures (C = width multiplier):
///   mlp:      [fc(h_i) - BN - act - dropout]* - fc(classes)
///   cnn:      conv(32C)3 - BN - act - MP2 - conv(64C)3 - BN - act - MP2 - fc(256C) - BN - act - dropout - fc
///   convnet:  2x128C3 - MP2 - 2x256C3 - MP2 - 2x512C3 - MP2 - 2x1024FC - fc(classes)  (BinaryConnect)
///   resnet20: conv(128C)3 - 3 stages of 3 residual blocks (128C, 256C, 512C; stride 2 at stages 2, 3)
///             - global average pool (8x8 on 32x32 inputs) - fc(classes)
/// The output layer's gradient has a GA point; its output (the logits) is not quantized.
Network make_network(const ModelOptions& options, const InputShape& input);

} // namespace fxnn
