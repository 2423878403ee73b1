#include "fxnn/floatnet/onnx_layer_import.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "onnx_chain_reader.h"

namespace fxnn::floatnet {

namespace {

using Kind = ImportedLayer::Kind;

// Opset 7 is the first with today's BatchNormalization (no `spatial` choice) and Gemm broadcasting;
// every operator read here keeps its inference semantics up to opset 21.
constexpr int kMinOpset = 7;
constexpr int kMaxOpset = 21;
// Limits that keep the shape arithmetic far from overflow: an input of at most 2^24 values, windows
// and paddings of at most 2^16.
constexpr int64_t kMaxInputValues = int64_t{1} << 24;
constexpr int64_t kMaxWindow = int64_t{1} << 16;
constexpr double kRelu = std::numeric_limits<double>::infinity();

/// The graph being imported: a chain of layers along the running value, with the layer whose
/// activation has not been seen yet kept open so that a bias, a batch norm and a max pooling can join it.
class LayerImporter : OnnxChainReader {
 public:
  LayerImporter(const std::string& bytes, std::string source) : OnnxChainReader(bytes, std::move(source)) {}

  ImportedNetwork run() {
    walk(kMinOpset, kMaxOpset);
    if (!open_) fail("the network must end in a Conv, Gemm or MatMul without activation (the logits)");
    if (!held_.empty())
      fail("the logits are followed by " + held_.front().onnx_node + "; the network must end in them");
    net_.layers.push_back(std::move(*open_));
    net_.source = source_;
    return std::move(net_);
  }

 private:
  void find_input() override {
    const onnx::ValueInfoProto& input = data_input();
    OnnxShape dims;
    for (const auto& d : input.type().tensor_type().shape().dim())
      dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
    if (dims.size() != 4 && dims.size() != 2)
      fail("input '" + input.name() + "' of shape " + onnx_shape_str(dims) +
           ": expected [batch, channels, height, width] or [batch, features]");
    dims.erase(dims.begin()); // the batch dimension, symbolic or not
    for (int64_t d : dims)
      if (d <= 0) fail("input '" + input.name() + "' has an unknown or empty dimension: " + onnx_shape_str(dims));
    const int64_t values = onnx_numel(dims);
    if (values < 0 || values > kMaxInputValues)
      fail("input '" + input.name() + "' of shape " + onnx_shape_str(dims) + " holds more than 2^24 values");
    net_.input_shape = shape_ = dims;
    if (dims.size() == 1) push(window_layer(Kind::kFlatten, "flatten_input", 1, 1)); // images arrive as [C, H, W]
  }

  void apply(const onnx::NodeProto& node) override {
    const std::string& op = node.op_type();
    check_chain_inputs(node);
    if (op == "Constant") return constant_node(node);
    if (op == "Conv") return conv(node);
    if (op == "Gemm") return gemm(node);
    if (op == "MatMul") return matmul(node);
    if (op == "Add") return add(node);
    if (op == "BatchNormalization") return batch_norm(node);
    if (op == "Relu") return activation(node, kRelu);
    if (op == "Clip") return activation(node, static_cast<double>(clipped_relu_max(node)));
    if (op == "MaxPool" || op == "AveragePool") return pool(node, op == "MaxPool" ? Kind::kMaxPool : Kind::kAvgPool);
    if (op == "GlobalAveragePool") return global_average_pool(node);
    if (op == "Flatten") return flatten(node);
    if (op == "Reshape") return reshape(node);
    if (op == "Pad") return pad(node);
    if (op == "Identity" || op == "Dropout") {
      require_data_input(node, 0);
      return advance(node);
    }
    fail("unsupported ONNX operator '" + op + "' (node '" + node.name() +
         "'); fxnn lowbit takes Conv, Gemm, MatMul, Add, BatchNormalization, Relu, Clip, MaxPool, AveragePool, "
         "GlobalAveragePool, Flatten, Reshape, Dropout, Identity, Pad of zero width");
  }

  // ---- weighted layers ----

  /// A new weighted layer: the one still open has had no activation, which only the logits may lack.
  void open_layer(const onnx::NodeProto& node, ImportedLayer layer) {
    if (layer.weight_shape[0] < 1 || layer.weight.empty()) fail(node, "has no outputs or no inputs");
    if (open_)
      fail(node,
           "follows " + open_->onnx_node + " with no Relu or Clip between them (every layer but the logits needs one)");
    layer.onnx_node = node.op_type() + " '" + node.name() + "'";
    open_ = std::move(layer);
  }

  void conv(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() < 2) fail(node, "expects a weight input");
    if (shape_.size() != 3) fail(node, "input of shape " + onnx_shape_str(shape_) + " is not [C, H, W]");
    const OnnxConstant& w = constant(node, node.input(1));
    if (w.dims.size() != 4) fail(node, "weight of shape " + onnx_shape_str(w.dims) + " is not [out, in, k, k]");
    if (int_attribute(node, "group", 1) != 1) fail(node, "group != 1 is not supported");
    if (w.dims[1] != shape_[0])
      fail(node, "weight has " + std::to_string(w.dims[1]) + " input channels, the value " + std::to_string(shape_[0]));
    if (w.dims[2] != w.dims[3]) fail(node, "kernel " + onnx_shape_str(w.dims) + " is not square");
    const int64_t k = w.dims[2];
    const Window win = window(node, k);
    ImportedLayer l;
    l.kind = Kind::kConv2d;
    l.name = "conv" + std::to_string(++convs_);
    l.weight_shape = w.dims;
    l.weight.assign(w.values.begin(), w.values.end());
    l.bias = bias_of(node, 2, w.dims[0], 1.0L);
    l.kernel = k;
    l.stride = win.stride;
    l.padding = win.padding;
    shape_ = {w.dims[0], spatial_out(node, shape_[1], k, win), spatial_out(node, shape_[2], k, win)};
    open_layer(node, std::move(l));
    advance(node);
  }

  void gemm(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() < 2) fail(node, "expects at least 2 inputs");
    if (shape_.size() != 1) fail(node, "input of shape " + onnx_shape_str(shape_) + " is not flat (Flatten first)");
    if (int_attribute(node, "transA", 0) != 0) fail(node, "transA = 1 on the data input is not supported");
    const long double alpha = float_attribute(node, "alpha", 1.0), beta = float_attribute(node, "beta", 1.0);
    const OnnxConstant& b = constant(node, node.input(1));
    if (b.dims.size() != 2) fail(node, "B must be a matrix, got shape " + onnx_shape_str(b.dims));
    const bool trans_b = int_attribute(node, "transB", 0) != 0;
    const int64_t k = trans_b ? b.dims[1] : b.dims[0], n = trans_b ? b.dims[0] : b.dims[1];
    if (k != shape_[0])
      fail(node, "value of " + std::to_string(shape_[0]) + " features times B' with " + std::to_string(k) + " rows");
    ImportedLayer l = dense(n, k);
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < k; ++i)
        l.weight[static_cast<size_t>(o * k + i)] =
            static_cast<double>(alpha * b.values[static_cast<size_t>(trans_b ? o * b.dims[1] + i : i * b.dims[1] + o)]);
    l.bias = bias_of(node, 2, n, beta);
    shape_ = {n};
    open_layer(node, std::move(l));
    advance(node);
  }

  void matmul(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "expects 2 inputs");
    require_data_input(node, 0);
    if (shape_.size() != 1) fail(node, "input of shape " + onnx_shape_str(shape_) + " is not flat (Flatten first)");
    const OnnxConstant& b = constant(node, node.input(1));
    if (b.dims.size() != 2 || b.dims[0] != shape_[0])
      fail(node,
           "value of " + std::to_string(shape_[0]) + " features times a matrix of shape " + onnx_shape_str(b.dims));
    const int64_t k = b.dims[0], n = b.dims[1];
    ImportedLayer l = dense(n, k);
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < k; ++i)
        l.weight[static_cast<size_t>(o * k + i)] = static_cast<double>(b.values[static_cast<size_t>(i * n + o)]);
    shape_ = {n};
    open_layer(node, std::move(l));
    advance(node);
  }

  ImportedLayer dense(int64_t outputs, int64_t inputs) {
    ImportedLayer l;
    l.kind = Kind::kDense;
    l.name = "fc" + std::to_string(++denses_);
    l.weight_shape = {outputs, inputs};
    l.weight.assign(static_cast<size_t>(outputs * inputs), 0.0);
    l.bias.assign(static_cast<size_t>(outputs), 0.0);
    return l;
  }

  /// Input `index` as a bias of `n` values (or one value for all), times `scale`; zeros when absent.
  std::vector<double> bias_of(const onnx::NodeProto& node, int index, int64_t n, long double scale) const {
    std::vector<double> bias(static_cast<size_t>(n), 0.0);
    if (node.input_size() <= index || node.input(index).empty()) return bias;
    const OnnxConstant& c = constant(node, node.input(index));
    const int64_t count = onnx_numel(c.dims);
    if (count != 1 && count != n)
      fail(node, "bias of shape " + onnx_shape_str(c.dims) + " for " + std::to_string(n) + " outputs");
    for (int64_t o = 0; o < n; ++o)
      bias[static_cast<size_t>(o)] = static_cast<double>(scale * c.values[static_cast<size_t>(count == 1 ? 0 : o)]);
    return bias;
  }

  /// value + constant: a bias of the open layer (one value, or one per channel or feature).
  void add(const onnx::NodeProto& node) {
    if (node.input_size() != 2) fail(node, "expects 2 inputs");
    const bool data_first = is_data(node.input(0));
    if (!data_first && !is_data(node.input(1))) fail(node, "neither input is the network's running value");
    const std::string& other = node.input(data_first ? 1 : 0);
    if (is_data(other) || stale_.count(other))
      fail(node, "adds two computed values (a residual connection); fxnn lowbit takes chains of layers");
    const OnnxConstant& c = constant(node, other);
    if (!open_ || !held_.empty())
      fail(node,
           "adds a constant to a value that is not the output of a Conv, Gemm or MatMul (only a bias has a "
           "low-bit form)");
    const int64_t channels = open_->weight_shape[0], count = onnx_numel(c.dims);
    // A per-channel constant of a convolution is [.., O, 1, 1]; of a dense layer [.., n].
    bool per_channel = count == channels;
    if (per_channel && open_->kind == Kind::kConv2d) {
      const size_t r = c.dims.size();
      per_channel = r >= 3 && c.dims[r - 3] == channels && c.dims[r - 2] == 1 && c.dims[r - 1] == 1;
    }
    if (count != 1 && !per_channel)
      fail(node, "constant of shape " + onnx_shape_str(c.dims) + " is not a bias of the " + std::to_string(channels) +
                     " outputs of " + open_->onnx_node);
    for (int64_t o = 0; o < channels; ++o)
      open_->bias[static_cast<size_t>(o)] += static_cast<double>(c.values[static_cast<size_t>(count == 1 ? 0 : o)]);
    advance(node);
  }

  /// Inference batch norm folded into the open layer: y = (z - mean) g / sqrt(var + eps) + beta.
  void batch_norm(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() != 5) fail(node, "expects 5 inputs (X, scale, B, mean, var)");
    if (!open_ || !held_.empty())
      fail(node, "does not follow a Conv, Gemm or MatMul (only a batch norm folded into one has a low-bit form)");
    if (int_attribute(node, "training_mode", 0) != 0) fail(node, "training_mode = 1 is not inference");
    const double eps = float_attribute(node, "epsilon", 1e-5);
    if (!(eps >= 0)) fail(node, "epsilon must not be negative");
    const int64_t channels = open_->weight_shape[0];
    std::vector<const OnnxConstant*> p;
    for (int i = 1; i < 5; ++i) {
      p.push_back(&constant(node, node.input(i)));
      if (onnx_numel(p.back()->dims) != channels)
        fail(node, "'" + node.input(i) + "' of shape " + onnx_shape_str(p.back()->dims) + " for " +
                       std::to_string(channels) + " channels");
    }
    const size_t per = open_->weight.size() / static_cast<size_t>(channels);
    for (int64_t o = 0; o < channels; ++o) {
      const auto c = static_cast<size_t>(o);
      const long double variance = p[3]->values[c] + static_cast<long double>(eps);
      if (!(variance > 0)) fail(node, "variance + epsilon of channel " + std::to_string(o) + " is not positive");
      const long double a = p[0]->values[c] / std::sqrt(variance);
      for (size_t i = 0; i < per; ++i) open_->weight[c * per + i] = static_cast<double>(a * open_->weight[c * per + i]);
      open_->bias[c] = static_cast<double>((open_->bias[c] - p[2]->values[c]) * a + p[1]->values[c]);
    }
    advance(node);
  }

  // ---- activations ----

  /// ReLU (clip = +inf) or Clip(0, clip): closes the open layer and moves the max pooling held back
  /// behind it (max pooling and a nondecreasing activation commute). On values that an activation
  /// already made nonnegative and bounded by `clip`, it changes nothing.
  void activation(const onnx::NodeProto& node, double clip) {
    require_data_input(node, 0);
    if (open_) {
      open_->clip = clip;
      push(std::move(*open_));
      open_.reset();
      for (auto& pool : held_) push(std::move(pool));
      held_.clear();
    } else if (!(last_clip_ && *last_clip_ <= clip)) {
      fail(node, "does not follow a Conv, Gemm or MatMul (an activation of its own has no low-bit form)");
    }
    advance(node);
  }

  // ---- pooling and reshaping ----

  struct Window {
    int64_t stride = 1, padding = 0;
  };

  /// The stride and padding of a square window of size k, the same along both axes.
  Window window(const onnx::NodeProto& node, int64_t k) const {
    if (k < 1 || k > kMaxWindow) fail(node, "kernel size " + std::to_string(k) + " is out of range");
    if (const auto* pad = attribute(node, "auto_pad"); pad && pad->s() != "NOTSET" && pad->s() != "VALID")
      fail(node, "auto_pad " + pad->s() + " is not supported (give explicit pads)");
    const auto kernel = ints_attribute(node, "kernel_shape");
    if (!kernel.empty() && kernel != std::vector<int64_t>{k, k})
      fail(node, "kernel_shape " + onnx_shape_str(kernel) + " is not " + std::to_string(k) + "x" + std::to_string(k));
    for (int64_t d : ints_attribute(node, "dilations"))
      if (d != 1) fail(node, "dilation is not supported");
    Window w;
    const auto strides = ints_attribute(node, "strides");
    if (!strides.empty()) {
      if (strides.size() != 2 || strides[0] != strides[1]) fail(node, "strides " + onnx_shape_str(strides) + " differ");
      w.stride = strides[0];
    }
    if (w.stride < 1 || w.stride > kMaxWindow) fail(node, "stride " + std::to_string(w.stride) + " is out of range");
    const auto pads = ints_attribute(node, "pads");
    if (!pads.empty()) {
      if (pads.size() != 4 || pads[1] != pads[0] || pads[2] != pads[0] || pads[3] != pads[0])
        fail(node, "pads " + onnx_shape_str(pads) + " are not the same on every side");
      w.padding = pads[0];
    }
    if (w.padding < 0 || w.padding >= k) fail(node, "padding " + std::to_string(w.padding) + " is out of range");
    return w;
  }

  int64_t spatial_out(const onnx::NodeProto& node, int64_t size, int64_t k, const Window& w) const {
    const int64_t padded = size + 2 * w.padding;
    if (padded < k) fail(node, "window " + std::to_string(k) + " is larger than the input " + onnx_shape_str(shape_));
    if (int_attribute(node, "ceil_mode", 0) != 0 && (padded - k) % w.stride != 0)
      fail(node, "ceil_mode = 1 over a partial window is not supported");
    return (padded - k) / w.stride + 1;
  }

  ImportedLayer window_layer(Kind kind, const std::string& name, int64_t k, int64_t stride) const {
    ImportedLayer l;
    l.kind = kind;
    l.name = name;
    l.kernel = k;
    l.stride = stride;
    return l;
  }

  void pool(const onnx::NodeProto& node, Kind kind) {
    require_data_input(node, 0);
    if (shape_.size() != 3) fail(node, "input of shape " + onnx_shape_str(shape_) + " is not [C, H, W]");
    const auto kernel = ints_attribute(node, "kernel_shape");
    if (kernel.size() != 2 || kernel[0] != kernel[1]) fail(node, "kernel_shape must be a square window");
    const Window w = window(node, kernel[0]);
    if (w.padding != 0) fail(node, "padded pooling is not supported");
    ImportedLayer l = window_layer(kind, (kind == Kind::kMaxPool ? "pool" : "avgpool") + std::to_string(++pools_),
                                   kernel[0], w.stride);
    l.onnx_node = node.op_type() + " '" + node.name() + "'";
    shape_ = {shape_[0], spatial_out(node, shape_[1], l.kernel, w), spatial_out(node, shape_[2], l.kernel, w)};
    hold_or_push(node, std::move(l));
    advance(node);
  }

  void global_average_pool(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (shape_.size() != 3 || shape_[1] != shape_[2])
      fail(node, "input of shape " + onnx_shape_str(shape_) + " is not a square [C, H, H] map");
    ImportedLayer l = window_layer(Kind::kAvgPool, "avgpool" + std::to_string(++pools_), shape_[1], shape_[1]);
    l.onnx_node = node.op_type() + " '" + node.name() + "'";
    shape_ = {shape_[0], 1, 1};
    hold_or_push(node, std::move(l));
    advance(node);
  }

  /// A max pooling before the activation waits for it; an average pooling there has no low-bit form.
  void hold_or_push(const onnx::NodeProto& node, ImportedLayer l) {
    if (!open_) return push(std::move(l));
    if (l.kind != Kind::kMaxPool)
      fail(node, "comes between " + open_->onnx_node + " and its activation (only a max pooling may)");
    held_.push_back(std::move(l));
  }

  void flatten(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    const int64_t axis = int_attribute(node, "axis", 1);
    if (axis != 1 && axis != 1 - static_cast<int64_t>(shape_.size() + 1))
      fail(node, "axis " + std::to_string(axis) + " is not supported (1: keep the batch dimension)");
    to_flat(node);
  }

  /// Reshape to [batch, features]: a flatten.
  void reshape(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    if (node.input_size() < 2) fail(node, "expects a shape input (opset >= 5)");
    const OnnxConstant& target = constant(node, node.input(1));
    const int64_t features = onnx_numel(shape_);
    const auto& t = target.values;
    const bool flat = t.size() == 2 && (t[1] == static_cast<long double>(features) || (t[1] == -1 && t[0] != -1));
    if (!flat) {
      std::ostringstream dims;
      for (size_t i = 0; i < t.size(); ++i) dims << (i ? "," : "") << static_cast<double>(t[i]);
      fail(node, "target shape [" + dims.str() + "] is not [batch, " + std::to_string(features) +
                     "] (only a reshape that flattens is supported)");
    }
    to_flat(node);
  }

  /// PyTorch writes AvgPool2d as a Pad of zero width before the AveragePool: the identity.
  void pad(const onnx::NodeProto& node) {
    require_data_input(node, 0);
    std::vector<long double> widths;
    if (opset_ < 11) {
      for (int64_t p : ints_attribute(node, "pads")) widths.push_back(static_cast<long double>(p));
    } else if (node.input_size() >= 2 && !node.input(1).empty()) {
      widths = constant(node, node.input(1)).values;
    }
    for (long double w : widths)
      if (w != 0) fail(node, "only a Pad of zero width is supported (a Conv pads by its own pads attribute)");
    advance(node);
  }

  void to_flat(const onnx::NodeProto& node) {
    if (shape_.size() != 1) {
      if (open_) fail(node, "comes between " + open_->onnx_node + " and its activation");
      push(window_layer(Kind::kFlatten, "flatten" + std::to_string(++flattens_), 1, 1));
      shape_ = {onnx_numel(shape_)};
    }
    advance(node);
  }

  void push(ImportedLayer l) {
    if (l.weighted()) last_clip_ = l.clip;
    net_.layers.push_back(std::move(l));
  }

  ImportedNetwork net_;
  OnnxShape shape_; // of the running value, without the batch dimension
  std::optional<ImportedLayer> open_;
  std::vector<ImportedLayer> held_;
  std::optional<double> last_clip_; // the activation the values passed last (pooling and flatten keep its bounds)
  int convs_ = 0, denses_ = 0, pools_ = 0, flattens_ = 0;
};

} // namespace

ImportedNetwork parse_onnx_layers(const std::string& bytes, const std::string& source) {
  return LayerImporter(bytes, source).run();
}

ImportedNetwork read_onnx_layers(const std::string& path) { return parse_onnx_layers(read_file(path), path); }

} // namespace fxnn::floatnet
