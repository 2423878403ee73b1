#include "fxnn/bench/torch_peers.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <cmath>
#include <map>
#include <stdexcept>

namespace fxnn {

namespace {

/// The real map of a node with a requantization (eq. (3) read in real numbers): with acc the exact
/// sum in units of 2^-F_acc,
///   out = clamp(T(x) * scale_c + bias_c, lo, hi),  scale_c = m_c 2^(F_acc - shift - F_out),
///   bias_c = o_c 2^-(shift + F_out),  [lo, hi] = [clamp_min, clamp_max] 2^-F_out,
/// where T is the node's linear part (convolution, product, window sum, sum, identity).
struct RealAffine {
  torch::Tensor scale, bias; // float32 [channels]
  double lo = 0, hi = 0;
};

int accumulator_frac(const ir::Network& net, const ir::Node& node) {
  const int in = net.format_of(node.inputs[0]).frac;
  switch (node.op) {
    case ir::OpKind::kConv2d:
    case ir::OpKind::kDense: return node.weight->format.frac + in;
    case ir::OpKind::kAdd: return std::max(in, net.format_of(node.inputs[1]).frac);
    default: return in;
  }
}

RealAffine real_affine(const ir::Network& net, const ir::Node& node) {
  const ir::Requantize& r = *node.requantize;
  const int64_t channels = node.output_shape[0];
  const int f_out = node.output_format.frac, f_acc = accumulator_frac(net, node);
  RealAffine a;
  a.scale = torch::empty({channels}, torch::kFloat);
  a.bias = torch::empty({channels}, torch::kFloat);
  for (int64_t c = 0; c < channels; ++c) {
    const auto pick = [&](const std::vector<int64_t>& v) { return static_cast<double>(v.size() == 1 ? v[0] : v[c]); };
    a.scale[c] = std::ldexp(pick(r.multiplier), f_acc - r.shift - f_out);
    a.bias[c] = std::ldexp(pick(r.offset), -(r.shift + f_out));
  }
  a.lo = std::ldexp(static_cast<double>(r.clamp_min), -f_out);
  a.hi = std::ldexp(static_cast<double>(r.clamp_max), -f_out);
  return a;
}

torch::Tensor per_channel(const torch::Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(static_cast<size_t>(dims), 1);
  shape[1] = v.size(0);
  return v.view(shape);
}

/// Real weights with the per-channel scale folded in: W codes 2^-F_w scale_c.
torch::Tensor folded_weight(const ir::Node& node, const RealAffine& a) {
  auto w = torch::tensor(node.weight->data, torch::kDouble).view(node.weight->shape) *
           std::ldexp(1.0, -node.weight->format.frac);
  std::vector<int64_t> view(static_cast<size_t>(w.dim()), 1);
  view[0] = w.size(0);
  return (w * a.scale.to(torch::kDouble).view(view)).to(torch::kFloat).contiguous();
}

bool is_relu(const RealAffine& a) { return a.lo >= 0; }

} // namespace

// ---------------------------------------------------------------- float

struct TorchFloatNetwork::Impl {
  struct Step {
    const ir::Node* node;
    std::vector<int> inputs; // 0: network input, i + 1: step i
    RealAffine affine;
    torch::Tensor weight; // conv, dense: scale folded in
  };
  const ir::Network* net;
  bool channels_last;
  std::vector<Step> steps;
  int output = 0;
  double input_scale = 1;

  std::vector<torch::Tensor> run(const torch::Tensor& pixels, bool keep_all) const {
    std::vector<torch::Tensor> values(steps.size() + 1);
    values[0] = pixels.to(torch::kFloat) * static_cast<float>(input_scale);
    if (channels_last && values[0].dim() == 4) values[0] = values[0].contiguous(torch::MemoryFormat::ChannelsLast);
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& s = steps[i];
      const auto& x = values[static_cast<size_t>(s.inputs[0])];
      torch::Tensor y;
      const auto& n = *s.node;
      switch (n.op) {
        case ir::OpKind::kRescale:
          y = x * per_channel(s.affine.scale, x.dim()) + per_channel(s.affine.bias, x.dim());
          break;
        case ir::OpKind::kConv2d: y = torch::conv2d(x, s.weight, s.affine.bias, n.stride, n.padding); break;
        case ir::OpKind::kDense: y = torch::linear(x, s.weight, s.affine.bias); break;
        case ir::OpKind::kMaxPool:
          y = torch::max_pool2d(x, {n.kernel, n.kernel}, {n.stride, n.stride}, {0, 0}, {1, 1});
          break;
        case ir::OpKind::kAvgPool:
          y = torch::avg_pool2d(x, n.kernel, n.stride, 0, false, true, 1) * per_channel(s.affine.scale, 4) +
              per_channel(s.affine.bias, 4);
          break;
        case ir::OpKind::kAdd:
          y = (x + values[static_cast<size_t>(s.inputs[1])]) * per_channel(s.affine.scale, x.dim()) +
              per_channel(s.affine.bias, x.dim());
          break;
        case ir::OpKind::kFlatten: y = x.contiguous().flatten(1); break;
      }
      if (n.requantize) y = is_relu(s.affine) ? y.clamp(s.affine.lo, s.affine.hi) : y;
      values[i + 1] = y;
      if (!keep_all) {
        // Inputs are small in number; dropping them early keeps the working set small.
      }
    }
    return values;
  }
};

TorchFloatNetwork::TorchFloatNetwork(const ir::Network& network, bool channels_last) : impl_(std::make_unique<Impl>()) {
  impl_->net = &network;
  impl_->channels_last = channels_last;
  impl_->input_scale = std::ldexp(1.0, -network.input_format.frac);
  std::map<std::string, int> index{{network.input_name, 0}};
  for (const auto& node : network.nodes) {
    Impl::Step s{&node, {}, {}, {}};
    for (const auto& in : node.inputs) s.inputs.push_back(index.at(in));
    if (node.requantize) s.affine = real_affine(network, node);
    if (node.weight) s.weight = folded_weight(node, s.affine);
    if (channels_last && s.weight.defined() && s.weight.dim() == 4)
      s.weight = s.weight.contiguous(torch::MemoryFormat::ChannelsLast);
    index[node.name] = static_cast<int>(impl_->steps.size()) + 1;
    impl_->steps.push_back(std::move(s));
  }
  impl_->output = index.at(network.output);
}

TorchFloatNetwork::~TorchFloatNetwork() = default;

torch::Tensor TorchFloatNetwork::forward(const torch::Tensor& pixels) const {
  torch::NoGradGuard no_grad;
  return impl_->run(pixels, false)[static_cast<size_t>(impl_->output)];
}

std::vector<torch::Tensor> TorchFloatNetwork::forward_all(const torch::Tensor& pixels) const {
  torch::NoGradGuard no_grad;
  return impl_->run(pixels, true);
}

// ---------------------------------------------------------------- int8

namespace {

/// Per-tensor quantization of an activation: scale 2^e, unsigned with zero point 0 when the tensor
/// is never negative, otherwise uint8 with zero point 128 (the operand type oneDNN convolutions take).
struct QParams {
  double scale = 1;
  int64_t zero_point = 0;
};

QParams activation_params(const Format& f, double lo, double max_abs) {
  QParams q;
  const bool non_negative = lo >= 0;
  if (f.bits <= 8 && !f.auto_range) {
    q.scale = std::ldexp(1.0, -f.frac);
  } else {
    const double levels = non_negative ? 255.0 : 127.0;
    q.scale = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(std::max(max_abs, 1e-30) / levels))));
  }
  q.zero_point = non_negative ? 0 : 128;
  return q;
}

torch::Tensor quantize_weight(const torch::Tensor& w) {
  const double max_abs = std::max(w.abs().max().item<double>(), 1e-30);
  const double scale = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(max_abs / 127.0))));
  return torch::quantize_per_tensor(w, scale, 0, torch::kQInt8);
}

c10::OperatorHandle op(const char* name) { return c10::Dispatcher::singleton().findSchemaOrThrow(name, ""); }

c10::IValue call(const c10::OperatorHandle& handle, std::vector<c10::IValue> args) {
  torch::jit::Stack stack(std::move(args));
  handle.callBoxed(&stack);
  return stack.at(0);
}

} // namespace

struct TorchInt8Network::Impl {
  struct Step {
    const ir::Node* node;
    std::vector<int> inputs;
    RealAffine affine;
    QParams out;
    c10::intrusive_ptr<ConvPackedParamsBase<2>> conv;
    c10::intrusive_ptr<LinearPackedParamsBase> linear;
  };
  std::vector<Step> steps;
  int output = 0;
  double input_scale = 1;
};

std::string TorchInt8Network::engine() { return c10::toString(at::globalContext().qEngine()); }

TorchInt8Network::TorchInt8Network(const ir::Network& network, const torch::Tensor& calibration)
    : impl_(std::make_unique<Impl>()) {
  torch::NoGradGuard no_grad;
  const auto engines = at::globalContext().supportedQEngines();
  if (std::find(engines.begin(), engines.end(), at::QEngine::ONEDNN) != engines.end())
    at::globalContext().setQEngine(at::QEngine::ONEDNN);
  const TorchFloatNetwork reference(network);
  const auto values = reference.forward_all(calibration);
  impl_->input_scale = std::ldexp(1.0, -network.input_format.frac);
  std::map<std::string, int> index{{network.input_name, 0}};
  for (size_t i = 0; i < network.nodes.size(); ++i) {
    const auto& node = network.nodes[i];
    Impl::Step s{&node, {}, {}, {}, {}, {}};
    for (const auto& in : node.inputs) s.inputs.push_back(index.at(in));
    if (node.requantize) s.affine = real_affine(network, node);
    const double max_abs = values[i + 1].abs().max().item<double>();
    const bool never_negative = node.requantize ? is_relu(s.affine) : values[i + 1].min().item<double>() >= 0;
    s.out = activation_params(node.output_format, never_negative ? 0.0 : -1.0, max_abs);
    if (node.op == ir::OpKind::kConv2d) {
      const auto w = quantize_weight(folded_weight(node, s.affine));
      const std::vector<int64_t> stride{node.stride, node.stride}, padding{node.padding, node.padding}, dilation{1, 1};
      s.conv = call(op("quantized::conv2d_prepack"),
                    {w, c10::optional<at::Tensor>(s.affine.bias), stride, padding, dilation, int64_t{1}})
                   .toCustomClass<ConvPackedParamsBase<2>>();
    } else if (node.op == ir::OpKind::kDense) {
      const auto w = quantize_weight(folded_weight(node, s.affine));
      s.linear = call(op("quantized::linear_prepack"), {w, c10::optional<at::Tensor>(s.affine.bias)})
                     .toCustomClass<LinearPackedParamsBase>();
    } else if (node.op == ir::OpKind::kAvgPool) {
      const double k2 = static_cast<double>(node.kernel * node.kernel);
      if (std::abs(s.affine.scale.max().item<double>() * k2 - 1) > 1e-6 ||
          s.affine.bias.abs().max().item<double>() != 0)
        throw std::runtime_error("int8 peer: node " + node.name +
                                 ": only a plain average pool has a quantized operator");
    }
    index[node.name] = static_cast<int>(i) + 1;
    impl_->steps.push_back(std::move(s));
  }
  impl_->output = index.at(network.output);
}

TorchInt8Network::~TorchInt8Network() = default;

torch::Tensor TorchInt8Network::forward(const torch::Tensor& pixels) const {
  torch::NoGradGuard no_grad;
  static const auto add = op("quantized::add");
  static const auto add_relu = op("quantized::add_relu");
  std::vector<torch::Tensor> values(impl_->steps.size() + 1);
  values[0] = pixels.to(torch::kFloat) * static_cast<float>(impl_->input_scale);
  for (size_t i = 0; i < impl_->steps.size(); ++i) {
    const auto& s = impl_->steps[i];
    const auto& n = *s.node;
    const auto& x = values[static_cast<size_t>(s.inputs[0])];
    const auto q = [&](const torch::Tensor& real) {
      return torch::quantize_per_tensor(real, s.out.scale, s.out.zero_point, torch::kQUInt8);
    };
    torch::Tensor y;
    switch (n.op) {
      case ir::OpKind::kRescale: { // float preprocessing, then the first quantization
        const auto real = x * per_channel(s.affine.scale, x.dim()) + per_channel(s.affine.bias, x.dim());
        y = q(is_relu(s.affine) ? real.clamp(s.affine.lo, s.affine.hi) : real);
        break;
      }
      case ir::OpKind::kConv2d:
        y = is_relu(s.affine) ? s.conv->apply_relu(x, s.out.scale, s.out.zero_point)
                              : s.conv->apply(x, s.out.scale, s.out.zero_point);
        break;
      case ir::OpKind::kDense:
        y = is_relu(s.affine) ? s.linear->apply_relu(x, s.out.scale, s.out.zero_point)
                              : s.linear->apply(x, s.out.scale, s.out.zero_point);
        break;
      case ir::OpKind::kMaxPool:
        y = torch::max_pool2d(x, {n.kernel, n.kernel}, {n.stride, n.stride}, {0, 0}, {1, 1});
        break;
      case ir::OpKind::kAvgPool: y = torch::avg_pool2d(x, {n.kernel, n.kernel}, {n.stride, n.stride}, {0, 0}); break;
      case ir::OpKind::kAdd:
        y = call(is_relu(s.affine) ? add_relu : add,
                 {x, values[static_cast<size_t>(s.inputs[1])], s.out.scale, s.out.zero_point})
                .toTensor();
        break;
      case ir::OpKind::kFlatten: y = x.contiguous().reshape({x.size(0), -1}); break;
    }
    values[i + 1] = y;
  }
  const auto& out = values[static_cast<size_t>(impl_->output)];
  return out.is_quantized() ? out.dequantize() : out;
}

} // namespace fxnn
