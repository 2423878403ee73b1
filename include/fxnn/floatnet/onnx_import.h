#pragma once
// Reading feed-forward ONNX graphs (opsets 6 to 13) as a chain of dense layers.
//
// Supported operators: MatMul (data x constant), Gemm (alpha, beta, transA = 0 on the data, transB),
// Add and Sub with a constant operand (numpy broadcasting), Relu, Clip with min 0 (clipped ReLU),
// Conv whose kernel covers the whole input (no padding, group 1: a dense layer), Flatten (axis <= 1),
// Reshape (keeping the batch dimension), Identity, Dropout (inference: identity), Constant.
// Initializers as raw_data or float_data/double_data/int64_data. Affine operators between two
// activations are composed (in long double, one rounding per coefficient) into one dense layer.
// Anything else is an error naming the operator and its node.

#include <string>

#include "fxnn/floatnet/float_network.h"

namespace fxnn::floatnet {

/// Imports a serialized ModelProto; `source` names it in messages. Throws std::runtime_error.
FloatNetwork parse_onnx(const std::string& bytes, const std::string& source);

/// Reads an .onnx file.
FloatNetwork read_onnx(const std::string& path);

} // namespace fxnn::floatnet
