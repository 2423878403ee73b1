#pragma once
// Choosing the importer of a model file by its name.

#include <string>

#include "fxnn/floatnet/float_network.h"

namespace fxnn::floatnet {

/// Reads `.nnet` and `.onnx` files (by extension, case-insensitive). fxnn run directories and
/// checkpoints need the LibTorch half: see load_float_network in deploy/checkpoint_mlp_import.h.
/// Throws std::runtime_error naming the path for any other name.
FloatNetwork read_network_file(const std::string& path);

/// True when the path names a file read_network_file understands.
bool is_network_file(const std::string& path);

} // namespace fxnn::floatnet
