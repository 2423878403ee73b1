#pragma once
// What the ONNX importers share (floatnet/onnx_import.cpp, floatnet/onnx_layer_import.cpp): the
// constants of a graph widened to long double, node attributes, the default opset, and the walk of a
// chain of operators along one running value, with errors that name the file and the node.
// Internal to fxnn_synth: the public headers do not expose the ONNX protobuf.

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace fxnn::floatnet {

using OnnxShape = std::vector<int64_t>;

/// Constants hold their values; more elements than this is not a network's weight.
constexpr int64_t kMaxOnnxElements = int64_t{1} << 32;

/// The product of the dimensions, or -1 when one is negative or the product exceeds
/// kMaxOnnxElements (computed so that it cannot overflow).
int64_t onnx_numel(const OnnxShape& shape);

std::string onnx_shape_str(const OnnxShape& shape);

/// A constant tensor (initializer or Constant node), values widened to long double.
struct OnnxConstant {
  OnnxShape dims;
  std::vector<long double> values;
};

/// Walks a graph whose computed values form one chain: every node reads the running value (the
/// graph's single data input, then the output of the last node that read it) and constants.
class OnnxChainReader {
 public:
  virtual ~OnnxChainReader() = default;

 protected:
  /// Parses `bytes`; `source` names the file in messages. Throws std::runtime_error.
  OnnxChainReader(const std::string& bytes, std::string source);

  /// The whole walk: the opset, the constants, the data input (find_input), every node in graph
  /// order (apply), and the one output that must be the running value.
  void walk(int min_opset, int max_opset);
  /// Reads the graph's data input (data_input()) into the importer's state.
  virtual void find_input() = 0;
  /// Takes one node of the chain.
  virtual void apply(const onnx::NodeProto& node) = 0;

  [[noreturn]] void fail(const std::string& message) const;
  [[noreturn]] void fail(const onnx::NodeProto& node, const std::string& message) const;

  /// The graph's single data input (inputs that are initializers are skipped); it becomes the running value.
  const onnx::ValueInfoProto& data_input();

  OnnxConstant to_constant(const onnx::TensorProto& t, const std::string& what) const;
  /// A Constant node: its value joins the constants.
  void constant_node(const onnx::NodeProto& node);
  /// Fails for an operator outside the default domain, and when a node that does not read the
  /// running value reads an earlier one (a branch).
  void check_chain_inputs(const onnx::NodeProto& node) const;

  bool is_data(const std::string& name) const { return !name.empty() && name == running_; }
  const OnnxConstant& constant(const onnx::NodeProto& node, const std::string& name) const;
  long double scalar(const onnx::NodeProto& node, const std::string& name) const;
  /// The max of a Clip whose min is 0 (a clipped ReLU; +infinity without max); fails for any other Clip.
  long double clipped_relu_max(const onnx::NodeProto& node) const;
  void require_data_input(const onnx::NodeProto& node, int index) const;
  /// The running value becomes the node's first output, the old one stale.
  void advance(const onnx::NodeProto& node);

  static const onnx::AttributeProto* attribute(const onnx::NodeProto& node, const std::string& name);
  static int64_t int_attribute(const onnx::NodeProto& node, const std::string& name, int64_t fallback);
  static double float_attribute(const onnx::NodeProto& node, const std::string& name, double fallback);
  static std::vector<int64_t> ints_attribute(const onnx::NodeProto& node, const std::string& name);

  onnx::ModelProto model_;
  std::string source_;
  int opset_ = 0;
  std::map<std::string, OnnxConstant> constants_;
  std::set<std::string> stale_;
  std::string running_;

 private:
  /// The version of the default operator set; fails outside [min_opset, max_opset].
  void check_opset(int min_opset, int max_opset);
  /// The initializers as constants.
  void read_initializers();
  /// Fails unless the graph has one output and it is the running value.
  void check_single_output() const;
};

} // namespace fxnn::floatnet
