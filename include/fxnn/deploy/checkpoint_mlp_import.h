#pragma once
// Importing fxnn float checkpoints of MLPs (the LibTorch half) as a floatnet::FloatNetwork for
// synthesis: the third producer of a float network beside the NNet and ONNX readers of floatnet.

#include <string>

#include "fxnn/floatnet/float_network.h"

namespace fxnn {

/// An fxnn run of arch mlp: `path` is the run directory (config.yaml and checkpoint.pt) or its
/// checkpoint.pt. Batch norm is folded in eval mode by the batch-norm fold of deploy/batch_norm_fold.h
/// (float64: scale = gamma / sqrt(var + eps), shift = (b - mean) scale + beta), QActivation becomes a
/// clipped ReLU, dropout and flatten are identities, and the config's input normalization
/// (x - mean_c) / std_c is folded into the first layer, so that the network takes pixels scaled to
/// [0, 1]. Throws std::runtime_error naming the file for anything else (another architecture, a
/// module that is not part of an MLP, a missing file).
floatnet::FloatNetwork import_checkpoint_mlp(const std::string& path);

/// A model file of any kind: .nnet and .onnx by extension, otherwise an fxnn run or checkpoint.
floatnet::FloatNetwork load_float_network(const std::string& path);

} // namespace fxnn
