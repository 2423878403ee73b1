#pragma once
// Where the quantization noise of each activation gradient G^(A) goes: the weight layers whose
// gradient G^(W) it reaches through element-wise maps only (clipped-ReLU masks, max-pool selection,
// residual additions), read from the network's modules (docs/precision-assignment.md section 3.2).

#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fxnn/nn/layer_geometry.h"
#include "fxnn/nn/network.h"

namespace fxnn {

/// How the noise of a G^(A) point reaches a weight gradient.
enum class PathKind {
  kDirect,   // the layer whose output the point is (conv -> batch norm -> clipped ReLU -> point)
  kShortcut, // the projection shortcut of the residual block whose output the point is
  kIdentity, // a layer of an earlier block, through one or more identity shortcuts
};
std::string to_string(PathKind kind);
PathKind parse_path_kind(const std::string& text);

/// One G^(A) point -> G^(W) path. The masks of the activations in `through` multiply along it.
struct GradientPath {
  std::string ga_layer;     // the point: "<ga_layer>.GA"
  std::string weight_layer; // whose G^(W) receives the noise
  PathKind kind = PathKind::kDirect;
  std::vector<std::string> through; // activation layers passed, the point's own first
};

/// A weighted layer as the gain computation needs it: its linear map and the batch norm after it.
struct WeightSite {
  std::string layer;
  LayerGeometry geometry;
  torch::Tensor weight;                  // the live parameter
  std::optional<torch::Tensor> bn_gamma; // batch norm scale (ones when not affine); none without batch norm
  double bn_eps = 0;
  bool is_shortcut = false;
  std::string entry; // the activation layer whose mask its output gradient passes first
};

/// An activation (or logits) point: the clipped ReLU's range, none for the logits.
struct ActivationSite {
  std::string layer;
  std::optional<double> clip;
};

struct GradientTopology {
  std::vector<WeightSite> weights;                // network order
  std::vector<ActivationSite> activations;        // network order
  std::map<std::string, std::string> identity_to; // block output activation -> the activation feeding the block
  std::vector<GradientPath> paths;                // every path of every G^(A) point

  const WeightSite& weight(const std::string& layer) const;
  const ActivationSite& activation(const std::string& layer) const;
  /// The paths that end at a weight layer (how many points share its G^(W) budget).
  int64_t paths_into(const std::string& weight_layer) const;
};

/// Walks the network's body (convolutions, dense layers, batch norm, clipped ReLU, max-pool, dropout,
/// flatten, average pool, residual blocks, the logits' point). Throws std::invalid_argument for a
/// module it does not know, since an unknown module could carry the noise elsewhere.
GradientTopology gradient_topology(NetworkImpl& network);

} // namespace fxnn
