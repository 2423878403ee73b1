#include "fxnn/precision/noise_gain.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fxnn/nn/layer_geometry.h"
#include "fxnn/train/progress_line.h"

namespace fxnn {

namespace {

/// ||dL_n/dW||^2 per sample n, from the layer input x and the output gradient g (eq. (2) of
/// docs/precision-assignment.md): a fully connected layer's per-sample gradient g_n x_n^T has norm
/// ||g_n|| ||x_n||; a convolution's is G_n U_n^T with U_n the im2col patches of x_n.
torch::Tensor per_sample_weight_gradient_norm2(const LayerGeometry& map, const torch::Tensor& x,
                                               const torch::Tensor& g) {
  const int64_t batch = x.size(0);
  if (!map.is_conv) return x.reshape({batch, -1}).pow(2).sum(1) * g.reshape({batch, -1}).pow(2).sum(1);
  const auto patches = torch::nn::functional::unfold(
      x, torch::nn::functional::UnfoldFuncOptions({map.kernel, map.kernel}).padding(map.padding).stride(map.stride));
  const auto grads = g.reshape({batch, g.size(1), -1});
  return torch::bmm(grads, patches.transpose(1, 2)).pow(2).sum({1, 2});
}

/// Collects what the points see during one forward and the backward passes that follow.
class NoiseGainObserver : public PointObserver {
 public:
  explicit NoiseGainObserver(const std::vector<LayerGeometry>& layers) {
    for (const auto& l : layers) maps_[l.name] = l;
  }

  void on_forward(const QuantPoint& point, const torch::Tensor& value) override {
    if (point.tensor_class() == TensorClass::kWeight) inputs_[point.layer()] = value.detach();
  }

  void on_backward(const QuantPoint& point, const torch::Tensor& gradient) override {
    const int64_t batch = gradient.size(0);
    torch::Tensor norm2;
    std::string name;
    if (point.tensor_class() == TensorClass::kActivationGradient) {
      if (!has_activation_.count(point.layer())) return; // the logits: not a feedforward tensor
      norm2 = gradient.reshape({batch, -1}).to(torch::kDouble).pow(2).sum(1);
      name = point.layer() + ".A";
    } else {
      norm2 = per_sample_weight_gradient_norm2(maps_.at(point.layer()), inputs_.at(point.layer()).to(torch::kDouble),
                                               gradient.to(torch::kDouble));
      name = point.layer() + ".W";
    }
    sums_[name] += (norm2 * weights_).sum().item<double>();
  }

  void set_sample_weights(torch::Tensor weights) { weights_ = std::move(weights); }
  void add_activation_layer(const std::string& layer) { has_activation_.insert({layer, true}); }
  const std::map<std::string, double>& sums() const { return sums_; }

 private:
  std::map<std::string, LayerGeometry> maps_;
  std::map<std::string, bool> has_activation_;
  std::map<std::string, torch::Tensor> inputs_;
  std::map<std::string, double> sums_;
  torch::Tensor weights_; // 1 / (24 (Z_i - Z_yhat)^2) per sample
};

/// Attaches an observer to a set of points for the lifetime of this object.
class ObserverScope {
 public:
  ObserverScope(std::vector<QuantPointPtr> points, PointObserver* observer) : points_(std::move(points)) {
    for (auto& p : points_) p->set_observer(observer);
  }
  ~ObserverScope() {
    for (auto& p : points_) p->set_observer(nullptr);
  }

 private:
  std::vector<QuantPointPtr> points_;
};

} // namespace

std::map<std::string, double> compute_noise_gains(NetworkImpl& network, const data::ImageDataset& dataset,
                                                  const NoiseGainOptions& options) {
  NoiseGainObserver observer(layer_geometries(network));
  std::vector<QuantPointPtr> observed;
  for (const auto& p : network.quant_points()) {
    if (p->tensor_class() == TensorClass::kActivation) observer.add_activation_layer(p->layer());
    if (p->tensor_class() == TensorClass::kWeight || p->tensor_class() == TensorClass::kActivationGradient)
      observed.push_back(p);
  }
  ObserverScope scope(observed, &observer);
  const bool was_training = network.is_training();
  network.eval();

  const int64_t n = std::min(options.samples, dataset.size());
  auto order = data::epoch_order(dataset.size(), options.seed, /*epoch=*/0, /*shuffle=*/true);
  order.resize(static_cast<size_t>(n));
  data::LoaderOptions loader;
  loader.augment = false;
  loader.transform = options.transform;
  const int64_t batches = (n + options.batch_size - 1) / options.batch_size;
  ProgressLine progress("noise gains", n);
  int64_t done = 0;
  int64_t ties = 0;
  for (int64_t b = 0; b < batches; ++b) {
    const auto first = order.begin() + b * options.batch_size;
    const std::vector<int64_t> indices(first, first + std::min(options.batch_size, n - b * options.batch_size));
    const auto batch = data::make_batch(dataset, indices, 0, loader);
    const auto logits = network.forward(batch.inputs);
    const int64_t rows = logits.size(0), classes = logits.size(1);
    const auto predicted = logits.argmax(1);
    const auto z = logits.detach().to(torch::kDouble);
    const auto z_hat = z.gather(1, predicted.unsqueeze(1)).squeeze(1);
    for (int64_t k = 1; k < classes; ++k) {
      const auto other = (predicted + k) % classes;
      auto margin2 = (z.gather(1, other.unsqueeze(1)).squeeze(1) - z_hat).pow(2);
      ties += margin2.eq(0).sum().item<int64_t>();
      // A zero margin would make the term infinite; such a sample is already at a decision boundary
      // and is skipped (the count is reported).
      observer.set_sample_weights(torch::where(margin2 > 0, 1.0 / (24.0 * margin2), torch::zeros_like(margin2)));
      auto grad = torch::zeros_like(logits);
      grad.scatter_(1, other.unsqueeze(1), 1.0);
      grad.scatter_add_(1, predicted.unsqueeze(1), -torch::ones({rows, 1}, logits.options()));
      logits.backward(grad, /*retain_graph=*/k + 1 < classes);
    }
    done += rows;
    if (!options.quiet) progress.update(done, "");
  }
  if (!options.quiet) progress.finish(std::to_string(n) + " samples");
  if (ties > 0) spdlog::warn("noise gains: {} (sample, class) pairs with a zero logit margin were skipped", ties);
  for (auto& p : network.parameters()) p.mutable_grad() = torch::Tensor(); // the passes above accumulated into .grad
  network.train(was_training);
  std::map<std::string, double> gains;
  for (const auto& [name, sum] : observer.sums()) gains[name] = sum / static_cast<double>(n);
  return gains;
}

} // namespace fxnn
