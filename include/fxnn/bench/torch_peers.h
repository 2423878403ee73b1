#pragma once
// The same fixed-point network run by LibTorch itself, as peers of the integer runtime in
// `fxnn bench infer` (docs/fixed-point-network.md, section 6):
//  - TorchFloatNetwork: float32 LibTorch operators on the real values the integer network stands
//    for (weights codes * 2^-F, batch norm and bias folded into the weights), with no rounding;
//  - TorchInt8Network: LibTorch's quantized operators (the oneDNN engine where available): per-tensor
//    int8/uint8 tensors with scales 2^-frac (the IR's frac where the format has <= 8 bits, otherwise
//    the power of two that covers the calibration batch), packed int8 weights, float bias.
// Both take raw u8.0 pixels [N, C, H, W] and return float logits [N, classes].

#include <torch/torch.h>

#include <memory>
#include <string>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn {

class TorchFloatNetwork {
 public:
  explicit TorchFloatNetwork(const ir::Network& network, bool channels_last = false);
  ~TorchFloatNetwork();
  torch::Tensor forward(const torch::Tensor& pixels) const;
  /// Every node's output for `pixels` (for the int8 network's calibration).
  std::vector<torch::Tensor> forward_all(const torch::Tensor& pixels) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class TorchInt8Network {
 public:
  /// `calibration`: pixels whose float activations set the scales of formats wider than 8 bits.
  TorchInt8Network(const ir::Network& network, const torch::Tensor& calibration);
  ~TorchInt8Network();
  torch::Tensor forward(const torch::Tensor& pixels) const;
  /// The quantized engine in use ("onednn", "fbgemm", "qnnpack").
  static std::string engine();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace fxnn
