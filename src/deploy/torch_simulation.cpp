#include "fxnn/deploy/torch_simulation.h"

#include <map>
#include <stdexcept>

namespace fxnn {

namespace {

/// eq. (3): v = acc * multiplier[c] + offset[c]; out = clamp(round_shift(v, shift)).
torch::Tensor requantize(const torch::Tensor& acc, const ir::Requantize& r) {
  std::vector<int64_t> view(static_cast<size_t>(acc.dim()), 1);
  auto per_channel = [&](const std::vector<int64_t>& values) {
    auto t = torch::tensor(values, torch::kLong);
    if (values.size() > 1) {
      view[1] = static_cast<int64_t>(values.size());
      t = t.view(view);
      view[1] = 1;
    }
    return t;
  };
  auto v = acc.to(torch::kLong) * per_channel(r.multiplier) + per_channel(r.offset);
  if (r.shift > 0) {
    if (r.rounding == Rounding::kNearest) v = v + (int64_t{1} << (r.shift - 1));
    v = torch::bitwise_right_shift(v, r.shift); // arithmetic: floor division by 2^shift
  } else if (r.shift < 0) {
    v = v * (int64_t{1} << -r.shift);
  }
  return v.clamp(r.clamp_min, r.clamp_max);
}

torch::Tensor exact_double(const torch::Tensor& codes, const ir::Node& node) {
  if (node.accumulator_bits > 53)
    throw std::runtime_error("simulation: node " + node.name + " needs a " + std::to_string(node.accumulator_bits) +
                             "-bit accumulator; float64 is exact to 53 bits");
  return codes.to(torch::kDouble);
}

torch::Tensor weight_tensor(const ir::Node& node) {
  return torch::tensor(node.weight->data, torch::kLong).view(node.weight->shape).to(torch::kDouble);
}

/// A float64 tensor of integers back to int64 (exact: the values are integers below 2^53).
torch::Tensor to_codes(const torch::Tensor& x) { return x.round().to(torch::kLong); }

} // namespace

torch::Tensor image_codes(const torch::Tensor& images) { return images.to(torch::kLong); }

torch::Tensor simulate_network(const ir::Network& network, const torch::Tensor& input_codes) {
  torch::NoGradGuard no_grad;
  std::map<std::string, torch::Tensor> tensors;
  tensors[network.input_name] = input_codes.to(torch::kLong);
  for (const auto& node : network.nodes) {
    const auto& in = tensors.at(node.inputs.at(0));
    torch::Tensor out;
    switch (node.op) {
      case ir::OpKind::kRescale: out = requantize(in, *node.requantize); break;
      case ir::OpKind::kConv2d: {
        const auto acc = torch::conv2d(exact_double(in, node), weight_tensor(node), {}, node.stride, node.padding);
        out = requantize(to_codes(acc), *node.requantize);
        break;
      }
      case ir::OpKind::kDense: {
        const auto acc = torch::matmul(exact_double(in, node), weight_tensor(node).t());
        out = requantize(to_codes(acc), *node.requantize);
        break;
      }
      case ir::OpKind::kMaxPool:
        out = to_codes(torch::max_pool2d(in.to(torch::kDouble), node.kernel, node.stride));
        break;
      case ir::OpKind::kAvgPool: {
        // The window sum: average pooling with divisor 1.
        const auto sum = torch::avg_pool2d(in.to(torch::kDouble), node.kernel, node.stride, 0, false, true, 1);
        out = requantize(to_codes(sum), *node.requantize);
        break;
      }
      case ir::OpKind::kAdd: {
        const auto& b = tensors.at(node.inputs.at(1));
        const Format fa = network.format_of(node.inputs[0]), fb = network.format_of(node.inputs[1]);
        const int frac = std::max(fa.frac, fb.frac);
        out =
            requantize(in * (int64_t{1} << (frac - fa.frac)) + b * (int64_t{1} << (frac - fb.frac)), *node.requantize);
        break;
      }
      case ir::OpKind::kFlatten: out = in.flatten(1); break;
    }
    tensors[node.name] = out;
  }
  return tensors.at(network.output);
}

} // namespace fxnn
