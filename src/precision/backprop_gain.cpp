#include "fxnn/precision/backprop_gain.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <stdexcept>

namespace fxnn {

namespace {

/// Records the activation at every G^(A) point and the input of every weighted layer.
class CaptureObserver : public PointObserver {
 public:
  CaptureObserver(std::map<std::string, torch::Tensor>& activations, std::map<std::string, torch::Tensor>& inputs)
      : activations_(activations), inputs_(inputs) {}
  void on_forward(const QuantPoint& point, const torch::Tensor& value) override {
    if (point.tensor_class() == TensorClass::kActivationGradient) activations_[point.layer()] = value;
    if (point.tensor_class() == TensorClass::kWeight) inputs_[point.layer()] = value.detach().to(torch::kDouble);
  }
  void on_backward(const QuantPoint&, const torch::Tensor&) override {}

 private:
  std::map<std::string, torch::Tensor>& activations_;
  std::map<std::string, torch::Tensor>& inputs_;
};

/// C[o, i, k] = sum over samples n and output positions p of F[n, o, p] G[n, i, p + k]: what the weight
/// gradient of the layer would be for the output gradient F and the input G (eq. (14)).
torch::Tensor correlate(const LayerGeometry& g, const torch::Tensor& f, const torch::Tensor& x) {
  if (!g.is_conv) return f.reshape({f.size(0), -1}).t().mm(x.reshape({x.size(0), -1}));
  const auto weight_shape = torch::zeros({f.size(1), x.size(1), g.kernel, g.kernel}, x.options());
  const auto grads = at::convolution_backward(f, x, weight_shape, c10::nullopt, {g.stride, g.stride},
                                              {g.padding, g.padding}, {1, 1}, /*transposed=*/false, {0, 0},
                                              /*groups=*/1, {false, true, false});
  return std::get<1>(grads);
}

/// y = W x of the layer (no bias: the batch norm after it subtracts the mean anyway).
torch::Tensor linear_output(const LayerGeometry& g, const torch::Tensor& x, const torch::Tensor& weight) {
  if (!g.is_conv) return torch::linear(x.reshape({x.size(0), -1}), weight);
  return torch::conv2d(x, weight, {}, g.stride, g.padding);
}

/// Per-channel sums of an output-shaped tensor, shaped to broadcast against a weight.
torch::Tensor channel_sum(const torch::Tensor& t, int64_t weight_dims) {
  auto s = t.dim() == 4 ? t.sum({0, 2, 3}) : t.sum(0);
  std::vector<int64_t> shape(static_cast<size_t>(weight_dims), 1);
  shape[0] = s.size(0);
  return s.reshape(shape);
}

} // namespace

BackpropGains::BackpropGains(NetworkImpl& network, const data::Batch& batch)
    : network_(network), topology_(gradient_topology(network)), was_training_(network.is_training()) {
  {
    torch::NoGradGuard no_grad;
    for (const auto& b : network.buffers()) saved_buffers_.push_back(b.clone());
  }
  network.train(true);
  for (const auto& m : network.modules(/*include_self=*/false))
    if (dynamic_cast<torch::nn::DropoutImpl*>(m.get())) m->eval();

  capture_ = std::make_unique<CaptureObserver>(activations_, layer_inputs_);
  for (const auto& p : network.quant_points()) {
    if (p->tensor_class() != TensorClass::kActivationGradient && p->tensor_class() != TensorClass::kWeight) continue;
    saved_observers_.emplace_back(p, p->observer());
    p->set_observer(capture_.get());
  }
  const auto logits = network.forward(batch.inputs);
  for (auto& [point, previous] : saved_observers_) point->set_observer(nullptr);
  const auto loss = torch::nn::functional::cross_entropy(logits, batch.labels);

  std::vector<std::string> names;
  std::vector<torch::Tensor> tensors;
  for (const auto& [layer, a] : activations_) {
    names.push_back(layer);
    tensors.push_back(a);
  }
  const auto grads = torch::autograd::grad({loss}, tensors, {}, /*retain_graph=*/true, /*create_graph=*/false,
                                           /*allow_unused=*/true);
  for (size_t i = 0; i < names.size(); ++i)
    nonzero_[names[i]] =
        grads[i].defined() ? grads[i].ne(0).to(torch::kDouble) : torch::zeros_like(tensors[i], torch::kDouble);
}

BackpropGains::~BackpropGains() {
  torch::NoGradGuard no_grad;
  const auto buffers = network_.buffers();
  for (size_t i = 0; i < buffers.size() && i < saved_buffers_.size(); ++i) buffers[i].copy_(saved_buffers_[i]);
  for (auto& [point, previous] : saved_observers_) point->set_observer(previous);
  network_.train(was_training_);
}

torch::Tensor BackpropGains::closed_form(const GradientPath& path) const {
  const auto& site = topology_.weight(path.weight_layer);
  const auto& g = site.geometry;
  // w: the elements where noise enters (dL/dA nonzero at the point) times the derivative of every clipped
  // ReLU on the path (eq. (12)).
  auto w = nonzero_.at(path.ga_layer).clone();
  for (const auto& layer : path.through) {
    const auto& act = topology_.activation(layer);
    if (!act.clip) continue; // the logits' point: no activation function
    const auto a = activations_.at(layer).detach().to(torch::kDouble);
    w *= a.gt(0).logical_and(a.lt(*act.clip)).to(torch::kDouble);
  }
  const auto& x = layer_inputs_.at(path.weight_layer);
  const auto x2 = x * x;
  if (!site.bn_gamma) return correlate(g, w, x2).clamp_min(0); // eq. (13) without batch norm

  // Batch norm in training mode: dL/dy = s (P dL/dz) with P = I - 11^T/M - xhat xhat^T/M per channel, a
  // symmetric map, so the variance is s^2 sum_q w_q ((P X)_q)^2; expanded into correlations (eq. (14)).
  const auto weight = site.weight.detach().to(torch::kDouble);
  const auto y = linear_output(g, x, weight);
  const std::vector<int64_t> dims = y.dim() == 4 ? std::vector<int64_t>{0, 2, 3} : std::vector<int64_t>{0};
  const auto mean = y.mean(dims, /*keepdim=*/true);
  const auto var = y.var(dims, /*unbiased=*/false, /*keepdim=*/true);
  const auto invstd = (var + site.bn_eps).rsqrt();
  const auto xhat = (y - mean) * invstd;
  const double m = static_cast<double>(y.numel() / y.size(1));
  const int64_t wd = weight.dim();
  auto ones_shape = y.sizes().vec();
  ones_shape[1] = 1;
  const auto a = correlate(g, torch::ones(ones_shape, y.options()), x) / m; // mean of X over the channel's positions
  const auto b = correlate(g, xhat, x) / m;                                 // mean of xhat X
  const auto s1 = correlate(g, w, x2);
  const auto s2 = correlate(g, w, x);
  const auto s3 = correlate(g, w * xhat, x);
  const auto c0 = channel_sum(w, wd);
  const auto c1 = channel_sum(w * xhat * xhat, wd);
  const auto c2 = channel_sum(w * xhat, wd);
  auto scale2 = (site.bn_gamma->detach().to(torch::kDouble) * invstd.flatten()).pow(2);
  std::vector<int64_t> scale_shape(static_cast<size_t>(wd), 1);
  scale_shape[0] = scale2.size(0);
  scale2 = scale2.reshape(scale_shape);
  const auto sum = s1 + a * a * c0 + b * b * c1 - 2 * a * s2 - 2 * b * s3 + 2 * a * b * c2;
  return (scale2 * sum).clamp_min(0);
}

std::map<std::string, torch::Tensor> BackpropGains::injected(const std::string& ga_layer, int64_t draws,
                                                             uint64_t seed) const {
  if (draws < 1) throw std::invalid_argument("noise injection needs at least one draw, got " + std::to_string(draws));
  const auto& a = activations_.at(ga_layer);
  const auto where = nonzero_.at(ga_layer).to(a.scalar_type());
  std::vector<torch::Tensor> weights;
  for (const auto& w : topology_.weights) weights.push_back(w.weight);
  auto generator = at::detail::createCPUGenerator(seed);
  std::vector<torch::Tensor> sums(weights.size());
  const double half_width = std::sqrt(3.0); // uniform on [-sqrt 3, sqrt 3]: variance 1
  for (int64_t r = 0; r < draws; ++r) {
    const auto u = torch::rand(a.sizes(), generator, a.options().requires_grad(false));
    const auto noise = (u * 2 - 1) * half_width * where;
    const auto grads = torch::autograd::grad({a}, weights, {noise}, /*retain_graph=*/true, /*create_graph=*/false,
                                             /*allow_unused=*/true);
    for (size_t i = 0; i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      const auto g2 = grads[i].to(torch::kDouble).pow(2);
      sums[i] = sums[i].defined() ? sums[i] + g2 : g2;
    }
  }
  std::map<std::string, torch::Tensor> result;
  for (size_t i = 0; i < sums.size(); ++i)
    if (sums[i].defined()) result[topology_.weights[i].layer] = sums[i] / static_cast<double>(draws);
  return result;
}

std::vector<PathGain> BackpropGains::path_gains(int64_t crossing_draws, uint64_t seed) const {
  std::map<std::string, std::map<std::string, torch::Tensor>> measured; // per point, measured once
  std::vector<PathGain> gains;
  for (const auto& path : topology_.paths) {
    const auto closed = closed_form(path);
    PathGain g;
    g.closed_max = closed.max().item<double>();
    if (path.kind == PathKind::kIdentity && g.closed_max > 0) {
      // The chain of eq. (13) is one of the ways back: the noise also crosses the convolutions of every
      // block in between and returns through the later identity shortcuts; the injection sees all of it.
      auto found = measured.find(path.ga_layer);
      if (found == measured.end())
        found = measured.emplace(path.ga_layer, injected(path.ga_layer, crossing_draws, seed)).first;
      g.crossing = found->second.at(path.weight_layer).sum().item<double>() / closed.sum().item<double>();
    }
    gains.push_back(g);
  }
  return gains;
}

} // namespace fxnn

namespace fxnn {

std::map<std::string, std::vector<GainCheck>> check_backprop_gains(NetworkImpl& network, const data::Batch& batch,
                                                                   int64_t draws, uint64_t seed) {
  const BackpropGains gains(network, batch);
  std::map<std::string, std::vector<GainCheck>> checks;
  for (const auto& site : gains.topology().activations) {
    const auto measured = gains.injected(site.layer, draws, seed);
    auto& rows = checks[site.layer];
    for (const auto& w : gains.topology().weights) {
      const auto found = measured.find(w.layer);
      if (found == measured.end()) continue; // after the point: its noise never reaches this layer
      const auto& layer = w.layer;
      const auto& injected = found->second;
      GainCheck c;
      c.weight_layer = layer;
      c.kind = "weights";
      c.injected_max = injected.max().item<double>();
      c.injected_total = injected.sum().item<double>();
      for (const auto& path : gains.topology().paths) {
        if (path.ga_layer != site.layer || path.weight_layer != layer) continue;
        const auto closed = gains.closed_form(path);
        const auto at = closed.flatten().argmax().item<int64_t>();
        c.kind = to_string(path.kind);
        c.closed_max = closed.flatten()[at].item<double>();
        c.injected_at_max = injected.flatten()[at].item<double>();
        c.closed_total = closed.sum().item<double>();
      }
      rows.push_back(c);
    }
  }
  return checks;
}

} // namespace fxnn
