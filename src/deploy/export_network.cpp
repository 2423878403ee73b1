#include "fxnn/deploy/export_network.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "fxnn/autograd/tensor_quantizer.h"
#include "fxnn/deploy/batch_norm_fold.h"
#include "fxnn/ir/worst_case.h"
#include "fxnn/nn/module_walk.h"

namespace fxnn {

namespace {

int ceil_log2_int(double x) { return static_cast<int>(std::ceil(std::log2(x))); }

std::vector<int64_t> to_codes(const torch::Tensor& values, const Format& format) {
  const auto scaled = values.to(torch::kDouble) * std::ldexp(1.0, format.frac);
  const auto rounded = scaled.round();
  if (!torch::equal(scaled, rounded)) throw std::logic_error("values are not on the grid of " + format.str());
  const auto codes = rounded.to(torch::kLong).contiguous();
  return std::vector<int64_t>(codes.data_ptr<int64_t>(), codes.data_ptr<int64_t>() + codes.numel());
}

/// A residual block's batch norm (always there).
std::optional<BatchNormView> batch_norm_of(const torch::nn::BatchNorm2dImpl& bn) { return batch_norm_view({"", &bn}); }

/// Builds the node list while walking the modules (nn/module_walk.h), tracking the current tensor.
class Exporter : public ModuleVisitor {
 public:
  Exporter(const ExperimentConfig& config, const InputShape& input, const ExportOptions& options) : options_(options) {
    net_.name = config.name;
    net_.input_shape = {input.channels, input.height, input.width};
    net_.input_format = Format(8, 0, false);
    current_ = {net_.input_name, net_.input_format, net_.input_shape};
    rescale_input(config.transform, input.channels);
  }

  /// A weighted layer with the batch norm and activation that follow it.
  void weighted_layer(const WeightedLayer& layer) override {
    const auto affine = fold_batch_norm(layer.out_channels(), layer.bias(), layer.batch_norm);
    if (layer.conv) {
      const auto& o = layer.conv->options;
      linear_node(o.name(), layer.weight_point(), layer.weight(), true, o.kernel_size(), o.stride(), o.padding(),
                  affine, layer.activation);
    } else {
      linear_node(layer.name(), layer.weight_point(), layer.weight(), false, 1, 1, 0, affine, layer.activation);
    }
  }
  void max_pool(const torch::nn::MaxPool2dImpl& pool, const ModuleRef&) override {
    max_pool_node(pool.options.kernel_size()->at(0), pool.options.stride()->at(0));
  }
  void average_pool(const torch::nn::AdaptiveAvgPool2dImpl&, const ModuleRef&) override { average_pool_node(); }
  void flatten(const ModuleRef&) override { flatten_node(); }
  void residual_block(const ResidualBlockImpl& block, const ModuleRef&) override { residual_node(block); }
  // Inference: dropout is the identity; a gradient point does nothing in forward.
  void dropout(const ModuleRef&) override {}
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override {}
  void unsupported(const ModuleRef& where) override {
    throw std::runtime_error("export: no integer form for module " + where.module->name());
  }

  ir::Network take() {
    net_.output = current_.name;
    return std::move(net_);
  }

 private:
  struct Tensor {
    std::string name;
    Format format;
    std::vector<int64_t> shape;
  };

  /// Fractional bits of the per-channel multipliers: multiplier_bits (signed) for the largest scale,
  /// or 0 (multiplier 1) when there is no scale to apply.
  int multiplier_frac(const ChannelAffine& affine) const {
    double max_scale = 0;
    for (double s : affine.scale) max_scale = std::max(max_scale, std::abs(s));
    if (affine.is_identity_scale || max_scale == 0) return 0;
    return options_.multiplier_bits - 1 - ceil_log2_int(std::nextafter(max_scale, 2 * max_scale));
  }

  /// eq. (4) of docs/fixed-point-network.md.
  ir::Requantize affine_requantize(const ChannelAffine& affine, int acc_frac, const Format& out, int64_t clamp_min,
                                   int64_t clamp_max) const {
    ir::Requantize r;
    r.multiplier_frac = multiplier_frac(affine);
    for (size_t c = 0; c < affine.scale.size(); ++c) {
      r.multiplier.push_back(static_cast<int64_t>(std::llround(std::ldexp(affine.scale[c], r.multiplier_frac))));
      r.offset.push_back(static_cast<int64_t>(std::llround(std::ldexp(affine.shift[c], acc_frac + r.multiplier_frac))));
    }
    r.shift = acc_frac + r.multiplier_frac - out.frac;
    r.rounding = Rounding::kNearest;
    r.clamp_min = clamp_min;
    r.clamp_max = clamp_max;
    return r;
  }

  /// The weights of a layer need a fixed-point format: not float, and not a scaled grid.
  static void require_fixed_point_weights(const std::string& layer, const QuantPoint& weight_point) {
    if (!weight_point.spec())
      throw std::runtime_error("export: layer " + layer +
                               ": its weights have no format (export needs a precision plan)");
    if (weight_point.spec()->scaled())
      throw std::runtime_error("export: layer " + layer +
                               ": its weights are on a scaled grid, which has no fixed-point form (fxnn lowbit "
                               "converts such runs)");
  }

  /// Output format and clamp of a layer: its activation's (clipped ReLU), or for the logits a signed
  /// format wide enough to hold acc + offset unrounded.
  void linear_node(const std::string& name, const QuantPointPtr& weight_point, const torch::Tensor& weight, bool conv,
                   int64_t kernel, int64_t stride, int64_t padding, const ChannelAffine& affine,
                   const QActivationImpl* activation) {
    require_fixed_point_weights(name, *weight_point);
    const auto wq = quantize_tensor(weight.detach().to(torch::kDouble), *weight_point->spec(), 0);
    ir::Node node;
    node.name = name;
    node.op = conv ? ir::OpKind::kConv2d : ir::OpKind::kDense;
    node.inputs = {current_.name};
    node.weight = ir::IntTensor{weight.sizes().vec(), to_codes(wq.values, wq.format), wq.format};
    node.kernel = kernel;
    node.stride = stride;
    node.padding = padding;
    const int acc_frac = wq.format.frac + current_.format.frac;
    node.accumulator_bits = accumulator_bits(*node.weight, current_.format);
    const int64_t channels = weight.size(0);
    std::vector<int64_t> shape;
    if (conv) {
      const int64_t h = (current_.shape[1] + 2 * padding - kernel) / stride + 1;
      const int64_t w = (current_.shape[2] + 2 * padding - kernel) / stride + 1;
      shape = {channels, h, w};
    } else {
      shape = {channels};
    }
    Format out;
    int64_t lo, hi;
    if (activation) {
      const auto& spec = activation->activation_point()->spec();
      if (!spec || spec->format.auto_range || spec->scaled())
        throw std::runtime_error(
            "export: layer " + name + ": its activation needs a fixed format in the plan (got " +
            (spec ? spec->format.str() + (spec->scaled() ? " scaled" : "") : std::string("float")) + ")");
      out = spec->format;
      lo = std::max<int64_t>(out.code_min(), 0); // the ReLU
      hi = std::min<int64_t>(out.code_max(),
                             static_cast<int64_t>(std::floor(std::ldexp(activation->options.clip(), out.frac))));
    } else {
      // Logits: every bit of acc * multiplier + offset (shift 0, no rounding), signed.
      const int extra = affine.is_identity_scale ? 1 : options_.multiplier_bits;
      out = Format(std::min(node.accumulator_bits + extra, Format::kMaxBits), acc_frac + multiplier_frac(affine), true);
      lo = out.code_min();
      hi = out.code_max();
    }
    node.requantize = affine_requantize(affine, acc_frac, out, lo, hi);
    node.output_format = out;
    node.output_shape = shape;
    push(std::move(node));
  }

  /// The integer width the accumulation needs: bits of max_o sum_i |W[o,i]| * max|in| plus the sign.
  static int accumulator_bits(const ir::IntTensor& w, const Format& in) {
    const int64_t per_output = w.numel() / w.shape[0];
    const double in_max = static_cast<double>(std::max(std::abs(in.code_min()), std::abs(in.code_max())));
    double worst = 0;
    for (int64_t o = 0; o < w.shape[0]; ++o) {
      double sum = 0;
      for (int64_t k = 0; k < per_output; ++k) sum += std::abs(static_cast<double>(w.data[o * per_output + k]));
      worst = std::max(worst, sum * in_max);
    }
    return worst < std::ldexp(1.0, 31) ? 32 : 64;
  }

  void rescale_input(const data::TransformOptions& t, int64_t channels) {
    // x = (p / 255 - mean_c) / std_c for raw pixels p (docs/fixed-point-network.md, rescale).
    ChannelAffine affine;
    affine.is_identity_scale = false;
    double max_abs = 0;
    for (int64_t c = 0; c < channels; ++c) {
      const double mean = t.mean.empty() ? 0.0 : t.mean[t.mean.size() == 1 ? 0 : static_cast<size_t>(c)];
      const double std = t.std.empty() ? 1.0 : t.std[t.std.size() == 1 ? 0 : static_cast<size_t>(c)];
      affine.scale.push_back(1.0 / (255.0 * std));
      affine.shift.push_back(-mean / std);
      max_abs = std::max({max_abs, std::abs(mean / std), std::abs((1.0 - mean) / std)});
    }
    const Format out = Format::automatic(options_.input_bits, true).resolve_auto(max_abs);
    ir::Node node;
    node.name = "input_scale";
    node.op = ir::OpKind::kRescale;
    node.inputs = {current_.name};
    node.output_format = out;
    node.output_shape = current_.shape;
    node.requantize = affine_requantize(affine, 0, out, out.code_min(), out.code_max());
    push(std::move(node));
  }

  void max_pool_node(int64_t kernel, int64_t stride) {
    ir::Node node;
    node.name = "pool" + std::to_string(++pools_);
    node.op = ir::OpKind::kMaxPool;
    node.inputs = {current_.name};
    node.kernel = kernel;
    node.stride = stride;
    node.output_format = current_.format;
    node.output_shape = {current_.shape[0], (current_.shape[1] - kernel) / stride + 1,
                         (current_.shape[2] - kernel) / stride + 1};
    push(std::move(node));
  }

  /// The mean over the whole map, exact: F_out = F_in + ceil(log2(H W)) keeps every bit of the sum
  /// when H W is a power of two (8 x 8 in the ResNet).
  void average_pool_node() {
    const int64_t h = current_.shape[1];
    if (current_.shape[2] != h) throw std::runtime_error("export: global average pooling needs a square map");
    const int extra = ceil_log2_int(static_cast<double>(h * h));
    ir::Node node;
    node.name = "avgpool";
    node.op = ir::OpKind::kAvgPool;
    node.inputs = {current_.name};
    node.kernel = h;
    node.stride = h;
    node.output_format = Format(current_.format.bits + extra, current_.format.frac + extra, current_.format.is_signed);
    node.output_shape = {current_.shape[0], 1, 1};
    ir::Requantize r;
    r.multiplier_frac = 30;
    r.multiplier = {
        static_cast<int64_t>(std::llround(std::ldexp(1.0, r.multiplier_frac + extra) / static_cast<double>(h * h)))};
    r.offset = {0};
    r.shift = r.multiplier_frac; // (sum * 2^(30+extra) / HW) >> 30 = sum * 2^extra / HW
    r.clamp_min = node.output_format.code_min();
    r.clamp_max = node.output_format.code_max();
    node.requantize = r;
    push(std::move(node));
  }

  void flatten_node() {
    ir::Node node;
    node.name = "flatten";
    node.op = ir::OpKind::kFlatten;
    node.inputs = {current_.name};
    node.output_format = current_.format;
    int64_t n = 1;
    for (int64_t d : current_.shape) n *= d;
    node.output_shape = {n};
    push(std::move(node));
  }

  /// conv1 - BN - act - conv2 - BN - (+ shortcut) - act: both branches end in a wide pre-addition
  /// format (F = F_out + residual_extra_bits), the addition is exact, and its requantization is the
  /// block's activation.
  void residual_node(const ResidualBlockImpl& block) {
    const std::string name = block.options.name();
    const Tensor input = current_;
    const auto& c1 = block.conv1();
    linear_node(c1->options.name(), c1->weight_point(), c1->weight, true, 3, c1->options.stride(), 1,
                fold_batch_norm(c1->options.out_channels(), c1->bias, batch_norm_of(*block.bn1())), block.act1().get());
    const auto& act2 = block.act2()->activation_point()->spec();
    if (!act2 || act2->format.auto_range || act2->scaled())
      throw std::runtime_error("export: block " + name + ": its output activation needs a fixed format in the plan");
    const Format wide(32, act2->format.frac + options_.residual_extra_bits, true);
    const auto& c2 = block.conv2();
    branch(c2->options.name() + ".bn", c2->weight_point(), c2->weight, c2->bias, c2->options.stride(),
           batch_norm_of(*block.bn2()), wide);
    const Tensor main = current_;
    Tensor skip = input;
    if (!block.shortcut().is_empty()) {
      current_ = input;
      const auto& s = block.shortcut();
      branch(s->options.name(), s->weight_point(), s->weight, s->bias, s->options.stride(),
             batch_norm_of(*block.shortcut_bn()), wide);
      skip = current_;
    }
    ir::Node add;
    add.name = name;
    add.op = ir::OpKind::kAdd;
    add.inputs = {main.name, skip.name};
    add.output_format = act2->format;
    add.output_shape = main.shape;
    const int frac = std::max(main.format.frac, skip.format.frac);
    ir::Requantize r;
    r.multiplier = {1};
    r.offset = {0};
    r.shift = frac - act2->format.frac;
    r.clamp_min = std::max<int64_t>(act2->format.code_min(), 0);
    r.clamp_max = std::min<int64_t>(
        act2->format.code_max(), static_cast<int64_t>(std::floor(std::ldexp(block.options.clip(), act2->format.frac))));
    add.requantize = r;
    // Two wide branches can sum past 32 bits: the width is what the worst case needs.
    add.accumulator_bits = ir::worst_case_accumulator(add, {main.format, skip.format}).fits(32) ? 32 : 64;
    current_ = main; // push() takes the output from the node
    push(std::move(add));
  }

  /// A convolution + BN of a residual branch, requantized to the wide pre-addition format (no clamp
  /// beyond the format: the addition comes first).
  void branch(const std::string& node_name, const QuantPointPtr& weight_point, const torch::Tensor& weight,
              const torch::Tensor& bias, int64_t stride, const std::optional<BatchNormView>& bn, const Format& wide) {
    require_fixed_point_weights(node_name, *weight_point);
    const auto wq = quantize_tensor(weight.detach().to(torch::kDouble), *weight_point->spec(), 0);
    ir::Node node;
    node.name = node_name;
    node.op = ir::OpKind::kConv2d;
    node.inputs = {current_.name};
    node.weight = ir::IntTensor{weight.sizes().vec(), to_codes(wq.values, wq.format), wq.format};
    node.kernel = 3;
    node.stride = stride;
    node.padding = 1;
    node.accumulator_bits = accumulator_bits(*node.weight, current_.format);
    const int64_t channels = weight.size(0);
    node.output_shape = {channels, (current_.shape[1] + 2 - 3) / stride + 1, (current_.shape[2] + 2 - 3) / stride + 1};
    node.output_format = wide;
    node.requantize = affine_requantize(fold_batch_norm(channels, bias, bn), wq.format.frac + current_.format.frac,
                                        wide, wide.code_min(), wide.code_max());
    push(std::move(node));
  }

  void push(ir::Node node) {
    current_ = {node.name, node.output_format, node.output_shape};
    net_.nodes.push_back(std::move(node));
  }

  ExportOptions options_;
  ir::Network net_;
  Tensor current_;
  int pools_ = 0;
};

} // namespace

ir::Network export_network(NetworkImpl& network, const ExperimentConfig& config, const InputShape& input,
                           const ExportOptions& options) {
  torch::NoGradGuard no_grad;
  Exporter exporter(config, input, options);
  walk_modules(network, exporter);
  auto net = exporter.take();
  net.validate();
  return net;
}

} // namespace fxnn
