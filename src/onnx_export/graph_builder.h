#pragma once
// Appends nodes, initializers, inputs and outputs to an ONNX graph: the one place the exporters write
// protobuf. Tensor names are checked to be unique; scalar constants are made once and shared.

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace fxnn::onnx_export {

using ElementType = onnx::TensorProto_DataType;

/// An attribute of a node: an integer, a list of integers, or a string.
struct Attribute {
  std::string name;
  std::variant<int64_t, std::vector<int64_t>, std::string> value;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  /// Adds a node of `op` (in `domain`, "" for ONNX) with one output, named `output`; returns `output`.
  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                   const std::vector<Attribute>& attributes = {}, const std::string& domain = "");

  /// An initializer of integers stored as `type` (INT8, UINT8, INT16, UINT16, INT32 or INT64).
  std::string integers(const std::string& name, const std::vector<int64_t>& dims, const std::vector<int64_t>& values,
                       ElementType type);
  /// An initializer of float32 or float64 values (the caller has checked that `type` holds them).
  std::string reals(const std::string& name, const std::vector<int64_t>& dims, const std::vector<double>& values,
                    ElementType type);
  /// A scalar constant, made once per type and value.
  std::string scalar(double value, ElementType type);

  /// A graph input or output of `type`, shaped [N, sample_shape...] with a symbolic batch N.
  void input(const std::string& name, ElementType type, const std::vector<int64_t>& sample_shape);
  void output(const std::string& name, ElementType type, const std::vector<int64_t>& sample_shape);

  int nodes() const { return graph_.node_size(); }

 private:
  void claim(const std::string& name);
  onnx::TensorProto& initializer(const std::string& name, const std::vector<int64_t>& dims, ElementType type);

  onnx::GraphProto& graph_;
  std::set<std::string> names_;
  std::set<std::string> scalars_; // names of the scalar constants made so far
};

/// The shape of a per-channel constant that broadcasts against [N, C, ...] codes of a per-sample shape
/// of `sample_rank` dimensions: [C, 1, ..., 1], or a scalar when there is one entry for all channels.
std::vector<int64_t> channel_dims(size_t entries, size_t sample_rank);

/// The element type of the narrowest integer that holds [lo, hi]: INT8 (UINT8 when lo >= 0 and hi <= 255,
/// for unsigned 8-bit codes), INT16, INT32 or INT64.
ElementType integer_type(int64_t lo, int64_t hi);

} // namespace fxnn::onnx_export
