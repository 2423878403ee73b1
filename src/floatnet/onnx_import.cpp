#include "fxnn/floatnet/onnx_import.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "onnx_chain_reader.h"

namespace fxnn::floatnet {

namespace {

using MatrixL = Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic>;
using VectorL = Eigen::Matrix<long double, Eigen::Dynamic, 1>;
using Shape = OnnxShape;
using Constant = OnnxConstant;

constexpr int kMinOpset = 6;
constexpr int kMaxOpset = 13;
// Affine operators fold into dense matrices of features x features (long double): wider values than
// this would take gigabytes, far beyond the small networks synthesis is for.
constexpr int64_t kMaxFeatures = 4096;

/// The graph being imported: errors name the file and the node.
class OnnxImporter : OnnxChainReader {
 public:
  OnnxImporter(const std::string& bytes, std::string source) : OnnxChainReader(bytes, std::move(source)) {}

  FloatNetwork run() {
    walk(kMinOpset, kMaxOpset);
    if (pending_ || net_.layers.empty()) finish_layer(Activation::kLinear, 0.0, "output");
    net_.source = source_;
    net_.validate();
    return std::move(net_);
  }

 private:
  void find_input() override {
    const onnx::ValueInfoProto* input = &data_input();
    Shape dims;
    for (const auto& d : input->type().tensor_type().shape().dim())
      dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    if (dims.empty()) fail("input '" + input->name() + "' has no known shape");
    // A leading batch dimension (symbolic or 1) when the rank is at least 2.
    if (dims.size() >= 2) {
      if (dims[0] != -1 && dims[0] != 1)
        fail("input '" + input->name() + "': batch size " + std::to_string(dims[0]) + " (expected 1 or symbolic)");
      dims[0] = 1;
    }
    for (int64_t d : dims)
      if (d <= 0) fail("input '" + input->name() + "' has an unknown or empty dimension: " + onnx_shape_str(dims));
    shape_ = dims;
    const int64_t n = onnx_numel(dims);
    check_features(n, "input '" + input->name() + "' of shape " + onnx_shape_str(dims));
    transform_ = MatrixL::Identity(n, n);
    offset_ = VectorL::Zero(n);
  }

  /// A value of `n` features (checked before its n x n matrices are allocated).
  void check_features(int64_t n, const std::string& what) const {
    if (n < 1 || n > kMaxFeatures)
      fail(what + ": " + std::to_string(n) + " features; the importer takes at most " + std::to_string(kMaxFeatures) +
           " per value (it folds the affine operators into dense matrices)");
  }

  /// value <- L value + add
  void apply_linear(const MatrixL& linear, const VectorL& add, const Shape& new_shape, const std::string& node_name) {
    check_features(onnx_numel(new_shape),
                   "node '" + node_name + "' gives a value of shape " + onnx_shape_str(new_shape));
    transform_ = linear * transform_;
    offset_ = linear * offset_ + add;
    shape_ = new_shape;
    pending_ = true;
    last_affine_ = node_name;
  }

  void finish_layer(Activation activation, double clip, const std::string& fallback_name) {
    DenseLayer layer;
    layer.weight = transform_.cast<double>();
    layer.bias = offset_.cast<double>();
    layer.activation = activation;
    layer.clip = clip;
    layer.name = last_affine_.empty() ? fallback_name : last_affine_;
    net_.layers.push_back(std::move(layer));
    const int64_t n = transform_.rows();
    transform_ = MatrixL::Identity(n, n);
    offset_ = VectorL::Zero(n);
    pending_ = false;
    last_affine_.clear();
    last_activation_ = activation;
  }

  /// The constant broadcast (numpy rules) to the running shape, flattened row-major.
  VectorL broadcast(const onnx::NodeProto& node, const Constant& c) const {
    const Shape& d = shape_;
    if (c.dims.size() > d.size()) {
      for (size_t k = 0; k + d.size() < c.dims.size(); ++k)
        if (c.dims[k] != 1)
          fail(node, "constant of shape " + onnx_shape_str(c.dims) + " does not broadcast to the value's shape " +
                         onnx_shape_str(d));
    }
    const size_t rank = d.size();
    Shape cd(rank, 1);
    for (size_t k = 0; k < std::min(rank, c.dims.size()); ++k) cd[rank - 1 - k] = c.dims[c.dims.size() - 1 - k];
    for (size_t k = 0; k < rank; ++k)
      if (cd[k] != 1 && cd[k] != d[k])
        fail(node, "constant of shape " + onnx_shape_str(c.dims) + " does not broadcast to the value's shape " +
                       onnx_shape_str(d));
    const int64_t n = onnx_numel(d);
    VectorL out(n);
    for (int64_t flat = 0; flat < n; ++flat) {
      int64_t rest = flat, index = 0, stride = 1;
      for (size_t k = rank; k-- > 0;) {
        const int64_t i = rest % d[k];
        rest /= d[k];
        if (cd[k] != 1) index += i * stride;
        stride *= cd[k];
      }
      out(flat) = c.values[static_cast<size_t>(index)];
    }
    return out;
  }

  void apply(const onnx::NodeProto& node) override {
    const std::string& op = node.op_type();
    check_chain_inputs(node);
    if (op == "Constant") return constant_node(node);
    if (op == "MatMul") return matmul(node);
    if (op == "Gemm") return gemm(node);
    if (op == "Add" || op == "Sub") return add_sub(node, op == "Sub");
    if (op == "Relu") return relu(node);
    if (op == "Clip") return clip(node);
    if (op == "Conv") return conv(node);
    if (op == "Flatten") return flatten(node);
    if (op == "Reshape") return reshape(node);
    if (op == "Identity" || op == "Dropout") {
      require_data_input(node, 0);
      return advance(node);
    }
    fail("unsupported ONNX operator '" + op + "' (node '" + node.name() + "')");
  }

  /// data [..., M, K] @ B [K, N]: block-diagonal over the M rows.
  void matmul(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "expects 2 inputs");
    if (!is_data(node.input(0)))
      fail(node, "only data @ constant is supported (the constant must be the second input)");
    const Constant& b = constant(node, node.input(1));
    if (b.dims.size() != 2) fail(node, "the constant operand must be a matrix, got shape " + onnx_shape_str(b.dims));
    const int64_t k = b.dims[0], n = b.dims[1];
    if (shape_.back() != k)
      fail(node, "value of shape " + onnx_shape_str(shape_) + " times a " + onnx_shape_str(b.dims) + " matrix");
    const int64_t rows = onnx_numel(shape_) / k;
    if (n > kMaxFeatures) fail(node, "a matrix of " + std::to_string(n) + " columns");
    check_features(rows * n, "node '" + node.name() + "'");
    MatrixL linear = MatrixL::Zero(rows * n, rows * k);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < n; ++o)
        for (int64_t i = 0; i < k; ++i) linear(r * n + o, r * k + i) = b.values[static_cast<size_t>(i * n + o)];
    Shape out = shape_;
    out.back() = n;
    apply_linear(linear, VectorL::Zero(rows * n), out, node.name());
    advance(node);
  }

  void gemm(const onnx::NodeProto& node) {
    if (node.input_size() < 2) fail(node, "expects at least 2 inputs");
    if (!is_data(node.input(0))) fail(node, "only Gemm(data, constant[, constant]) is supported");
    if (int_attribute(node, "transA", 0) != 0) fail(node, "transA = 1 on the data input is not supported");
    const long double alpha = float_attribute(node, "alpha", 1.0), beta = float_attribute(node, "beta", 1.0);
    const Constant& b = constant(node, node.input(1));
    if (b.dims.size() != 2) fail(node, "B must be a matrix, got shape " + onnx_shape_str(b.dims));
    const bool trans_b = int_attribute(node, "transB", 0) != 0;
    const int64_t k = trans_b ? b.dims[1] : b.dims[0], n = trans_b ? b.dims[0] : b.dims[1];
    if (onnx_numel(shape_) != k)
      fail(node, "value of shape " + onnx_shape_str(shape_) + " (" + std::to_string(onnx_numel(shape_)) +
                     " features) times B' with " + std::to_string(k) + " rows");
    check_features(n, "node '" + node.name() + "'");
    MatrixL linear(n, k);
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < k; ++i)
        linear(o, i) = alpha * b.values[static_cast<size_t>(trans_b ? o * b.dims[1] + i : i * b.dims[1] + o)];
    VectorL add = VectorL::Zero(n);
    if (node.input_size() >= 3 && !node.input(2).empty()) {
      const Constant& c = constant(node, node.input(2));
      const int64_t count = onnx_numel(c.dims);
      if (count != 1 && count != n)
        fail(node, "C of shape " + onnx_shape_str(c.dims) + " does not broadcast to " + std::to_string(n) + " outputs");
      for (int64_t o = 0; o < n; ++o) add(o) = beta * c.values[static_cast<size_t>(count == 1 ? 0 : o)];
    }
    apply_linear(linear, add, Shape{1, n}, node.name());
    advance(node);
  }

  void add_sub(const onnx::NodeProto& node, bool subtract) {
    if (node.input_size() != 2) fail(node, "expects 2 inputs");
    const bool data_first = is_data(node.input(0)), data_second = is_data(node.input(1));
    if (data_first && data_second) fail(node, "both operands are the running value (not an affine operation)");
    const Constant& c = constant(node, node.input(data_first ? 1 : 0));
    const VectorL v = broadcast(node, c);
    const int64_t n = onnx_numel(shape_);
    // data + c, data - c, c + data, c - data
    const long double sign = (subtract && !data_first) ? -1.0L : 1.0L;
    const VectorL add = (subtract && data_first) ? VectorL(-v) : v;
    apply_linear(sign * MatrixL::Identity(n, n), add, shape_, node.name());
    advance(node);
  }

  void relu(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    // relu(relu(z)) = relu(z) and relu(clip(z)) = clip(z): only a new affine map needs a new layer.
    if (pending_ || net_.layers.empty() || last_activation_ == Activation::kLinear)
      finish_layer(Activation::kRelu, 0.0, node.name());
    advance(node);
  }

  void clip(const onnx::NodeProto& node) {
    const long double hi = clipped_relu_max(node);
    if (std::isinf(static_cast<double>(hi)))
      finish_layer(Activation::kRelu, 0.0, node.name());
    else
      finish_layer(Activation::kClippedRelu, static_cast<double>(hi), node.name());
    advance(node);
  }

  /// A convolution whose kernel covers the whole (unpadded) input is a dense layer.
  void conv(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() < 2) fail(node, "expects a weight input");
    const Constant& w = constant(node, node.input(1));
    if (shape_.size() < 3) fail(node, "input of shape " + onnx_shape_str(shape_) + " is not [N, C, spatial...]");
    if (w.dims.size() != shape_.size())
      fail(node, "weight of shape " + onnx_shape_str(w.dims) + " for input " + onnx_shape_str(shape_));
    if (int_attribute(node, "group", 1) != 1) fail(node, "group != 1 is not supported");
    if (const auto* pad = attribute(node, "auto_pad"); pad && pad->s() != "NOTSET" && pad->s() != "VALID")
      fail(node, "auto_pad " + pad->s() + " is not supported");
    for (int64_t p : ints_attribute(node, "pads"))
      if (p != 0) fail(node, "padding is not supported");
    for (int64_t d : ints_attribute(node, "dilations"))
      if (d != 1) fail(node, "dilation is not supported");
    const int64_t out_channels = w.dims[0];
    if (w.dims[1] != shape_[1])
      fail(node, "weight has " + std::to_string(w.dims[1]) + " input channels, the value " + std::to_string(shape_[1]));
    for (size_t k = 2; k < shape_.size(); ++k)
      if (w.dims[k] != shape_[k])
        fail(node, "kernel " + onnx_shape_str(w.dims) + " does not cover the whole input " + onnx_shape_str(shape_) +
                       " (only such convolutions, which are dense layers, are supported)");
    const int64_t k = onnx_numel(shape_);
    check_features(out_channels, "node '" + node.name() + "'");
    MatrixL linear(out_channels, k);
    for (int64_t o = 0; o < out_channels; ++o)
      for (int64_t i = 0; i < k; ++i) linear(o, i) = w.values[static_cast<size_t>(o * k + i)];
    VectorL add = VectorL::Zero(out_channels);
    if (node.input_size() >= 3 && !node.input(2).empty()) {
      const Constant& b = constant(node, node.input(2));
      if (onnx_numel(b.dims) != out_channels)
        fail(node, "bias of shape " + onnx_shape_str(b.dims) + " for " + std::to_string(out_channels) + " channels");
      for (int64_t o = 0; o < out_channels; ++o) add(o) = b.values[static_cast<size_t>(o)];
    }
    Shape out(shape_.size(), 1);
    out[1] = out_channels;
    apply_linear(linear, add, out, node.name());
    advance(node);
  }

  void flatten(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    const int64_t axis = int_attribute(node, "axis", 1);
    if (axis > 1 || axis < 0) fail(node, "axis " + std::to_string(axis) + " is not supported (0 or 1)");
    shape_ = Shape{1, onnx_numel(shape_)};
    advance(node);
  }

  void reshape(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() < 2) fail(node, "expects a shape input (opset >= 5)");
    const Constant& target = constant(node, node.input(1));
    Shape out;
    int64_t infer = -1;
    for (size_t k = 0; k < target.values.size(); ++k) {
      // Checked before the conversion: a long double beyond int64 converts to an undefined value.
      const long double v = target.values[k];
      if (v != std::floor(v) || v < -1 || v > static_cast<long double>(kMaxOnnxElements))
        fail(node,
             "target dimension " + (std::ostringstream() << static_cast<double>(v)).str() + " is not a dimension");
      int64_t d = static_cast<int64_t>(v);
      if (d == 0) {
        if (k >= shape_.size()) fail(node, "dimension 0 copies a dimension the value does not have");
        d = shape_[k];
      }
      if (d == -1) {
        if (infer >= 0) fail(node, "more than one -1 in the target shape");
        infer = static_cast<int64_t>(k);
        d = 1;
      } else if (d < 0) {
        fail(node, "negative dimension " + std::to_string(d));
      }
      out.push_back(d);
    }
    const int64_t total = onnx_numel(shape_);
    if (infer >= 0) {
      if (total % onnx_numel(out) != 0)
        fail(node, "cannot reshape " + onnx_shape_str(shape_) + " to " + onnx_shape_str(out));
      out[static_cast<size_t>(infer)] = total / onnx_numel(out);
    }
    if (onnx_numel(out) != total) fail(node, "cannot reshape " + onnx_shape_str(shape_) + " to " + onnx_shape_str(out));
    if (out.size() >= 2 && out[0] != 1) fail(node, "the reshape changes the batch dimension: " + onnx_shape_str(out));
    shape_ = out;
    advance(node);
  }

  Shape shape_;
  MatrixL transform_; // value = transform_ * (last activation output) + offset_
  VectorL offset_;
  bool pending_ = false;
  std::string last_affine_;
  Activation last_activation_ = Activation::kLinear;
  FloatNetwork net_;
};

} // namespace

FloatNetwork parse_onnx(const std::string& bytes, const std::string& source) {
  return OnnxImporter(bytes, source).run();
}

FloatNetwork read_onnx(const std::string& path) { return parse_onnx(read_file(path), path); }

} // namespace fxnn::floatnet
