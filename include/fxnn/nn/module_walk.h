#pragma once
// The one walk over a network's modules (docs/architecture.md): every reader of the module tree (the
// export, the low-bit converter's float layers, the MLP import for synthesis, the gradient-path
// topology, the layer geometries) is a ModuleVisitor, so which modules exist and which of them belong
// together in inference is written once, here.
//
// The body is visited in forward order. A convolution or dense layer is visited together with the
// batch norm right after it and the clipped ReLU right after that (conv -> BN -> act, the layer of
// the model zoo); a batch norm or activation anywhere else is visited on its own. A residual block is
// one visit (its parts are read through ResidualBlockImpl and WeightedLayer::of).

#include <torch/torch.h>

#include <optional>
#include <string>

#include "fxnn/nn/layer_geometry.h"
#include "fxnn/nn/layers.h"
#include "fxnn/nn/network.h"
#include "fxnn/nn/residual_block.h"

namespace fxnn {

/// A module of the body as the walk met it: its key in the Sequential ("0", "1", ...) and the module.
struct ModuleRef {
  std::string key;
  const torch::nn::Module* module = nullptr;
};

/// A 1-d or 2-d batch norm in inference mode: y = gamma (x - mean) / sqrt(var + eps) + beta.
struct BatchNormView {
  ModuleRef where;
  bool two_d = false;         // BatchNorm2d (else BatchNorm1d)
  bool affine = true;         // false: gamma = 1 and beta = 0 (weight and bias undefined)
  torch::Tensor weight, bias; // gamma, beta: the live parameters
  torch::Tensor running_mean, running_var;
  double eps = 0;
  int64_t num_features = 0;

  /// gamma: the weight, or ones when the batch norm is not affine.
  torch::Tensor gamma() const;
};

/// The batch norm view of a module, or nothing when it is not a BatchNorm1d/2d.
std::optional<BatchNormView> batch_norm_view(const ModuleRef& where);

/// A convolution or dense layer with the batch norm and the clipped ReLU that follow it in inference.
struct WeightedLayer {
  ModuleRef where;
  const QConv2dImpl* conv = nullptr; // exactly one of conv and linear
  const QLinearImpl* linear = nullptr;
  std::optional<BatchNormView> batch_norm;
  const QActivationImpl* activation = nullptr; // none: no activation follows (e.g. the logits)

  /// The parts of a residual block (or any conv, batch norm and activation) as one layer.
  static WeightedLayer of(const QConv2dImpl& conv, const torch::nn::BatchNorm2dImpl* batch_norm,
                          const QActivationImpl* activation);

  bool is_conv() const { return conv != nullptr; }
  const std::string& name() const;
  const torch::Tensor& weight() const; // the live parameter, [O, I, k, k] or [O, I]
  const torch::Tensor& bias() const;   // undefined when the layer has none
  const QuantPointPtr& weight_point() const;
  int64_t out_channels() const;
  LayerGeometry geometry() const;
};

/// What a reader does with each kind of module. Every default calls unsupported(), which the reader
/// defines (its error names the module the way its users expect).
class ModuleVisitor {
 public:
  virtual ~ModuleVisitor() = default;

  virtual void weighted_layer(const WeightedLayer& layer) { unsupported(layer.where); }
  /// A batch norm that does not directly follow a convolution or dense layer.
  virtual void batch_norm(const BatchNormView& batch_norm) { unsupported(batch_norm.where); }
  /// A clipped ReLU that does not directly follow a layer (or its batch norm).
  virtual void activation(const QActivationImpl&, const ModuleRef& where) { unsupported(where); }
  /// The G^(A) point of the logits (nothing in forward).
  virtual void gradient_point(const GradientPointImpl&, const ModuleRef& where) { unsupported(where); }
  virtual void residual_block(const ResidualBlockImpl&, const ModuleRef& where) { unsupported(where); }
  virtual void max_pool(const torch::nn::MaxPool2dImpl&, const ModuleRef& where) { unsupported(where); }
  virtual void average_pool(const torch::nn::AdaptiveAvgPool2dImpl&, const ModuleRef& where) { unsupported(where); }
  virtual void flatten(const ModuleRef& where) { unsupported(where); }
  virtual void dropout(const ModuleRef& where) { unsupported(where); }

  /// A module this reader has no rule for, and every module the walk does not know.
  virtual void unsupported(const ModuleRef& where) = 0;
};

/// Visits the network's body in forward order (see the top of this file).
void walk_modules(const NetworkImpl& network, ModuleVisitor& visitor);

} // namespace fxnn
