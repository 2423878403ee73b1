#pragma once
// Reading a float CNN or MLP from ONNX (opsets 7 to 21) as the chain of layers the low-bit converter
// takes (docs/onnx.md, "Importing float networks"): convolutions and dense layers with batch norm and
// bias folded in, each hidden one followed by its ReLU or clipped ReLU, and the max pooling, average
// pooling and flatten between them.
//
// Supported operators: Conv (square kernel, equal strides, the same padding on every side, group 1,
// no dilation), Gemm (transA = 0), MatMul (data x constant) and Add of a constant (a bias),
// BatchNormalization after a Conv, Gemm or MatMul, Relu, Clip with min 0, MaxPool and AveragePool
// (square windows, no padding), GlobalAveragePool (square maps), Flatten (axis 1), Reshape to
// [batch, features], Identity, Dropout (inference: identity), Pad of zero width (PyTorch writes one
// before AveragePool), Constant. A max pooling between a layer and its ReLU is moved after the ReLU
// (they commute). Anything else is an error naming the operator and its node.
// No LibTorch: the layers hold plain vectors (deploy/float_layers.h turns them into tensors).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fxnn::floatnet {

struct ImportedLayer {
  enum class Kind { kConv2d, kDense, kMaxPool, kAvgPool, kFlatten };
  Kind kind = Kind::kDense;
  std::string name;                  // conv1, fc2, pool1, ...: unique, usable as a C identifier
  std::string onnx_node;             // the ONNX node it comes from (for messages)
  std::vector<int64_t> weight_shape; // [O, I, k, k] or [O, I]
  std::vector<double> weight;        // row-major, batch norm folded in
  std::vector<double> bias;          // [O], batch norm folded in
  int64_t kernel = 1, stride = 1, padding = 0;
  /// The activation that follows a weighted layer: +infinity for a ReLU, c for Clip(0, c); none: the
  /// output layer (logits).
  std::optional<double> clip;

  bool weighted() const { return kind == Kind::kConv2d || kind == Kind::kDense; }
};

struct ImportedNetwork {
  std::vector<int64_t> input_shape; // [C, H, W], or [F] for an MLP
  std::vector<ImportedLayer> layers;
  std::string source; // the file
};

/// Imports a serialized ModelProto; `source` names it in messages. Throws std::runtime_error with
/// one line naming the file and the node.
ImportedNetwork parse_onnx_layers(const std::string& bytes, const std::string& source);

/// Reads an .onnx file.
ImportedNetwork read_onnx_layers(const std::string& path);

} // namespace fxnn::floatnet
