#pragma once
// Noise gains E_T of the feedforward tensors (weights and activations) of a trained float network
// (spec section 3, docs/precision-assignment.md eq. (1)).

#include <map>
#include <string>

#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/nn/network.h"

namespace fxnn {

struct NoiseGainOptions {
  int64_t samples = 200;            // N, drawn from the training set
  int64_t batch_size = 50;          // samples evaluated together (batch norm in inference mode keeps them independent)
  uint64_t seed = 0;                // which samples
  data::TransformOptions transform; // normalization of the inputs (no augmentation)
  bool quiet = false;
};

/// E_T = (1/N) sum_n sum_{i != yhat_n} ||d(Z_i - Z_yhat)/dT||^2 / (24 (Z_i - Z_yhat)^2) for every W and A
/// point, keyed by point name ("conv1.W", "conv1.A", ...). One backward pass per batch and class
/// offset; per-sample weight-gradient norms come from the layer inputs and output gradients (for a
/// convolution through im2col), so no per-sample backward is needed.
std::map<std::string, double> compute_noise_gains(NetworkImpl& network, const data::ImageDataset& dataset,
                                                  const NoiseGainOptions& options);

} // namespace fxnn
