#include "fxnn/precision/gradient_probe.h"

#include <filesystem>

#include "fxnn/precision/backprop_gain.h"

namespace fxnn {

namespace {

constexpr const char* kStateJson = "probe_state.json";

/// Draws per epoch of the injection that measures an identity path's crossing factor (eq. (18)). Each
/// draw is a backward pass of the batch per point, so few are taken per epoch and the assignment pools
/// the epochs (their mean): 16 draws over 8 epochs (tests/precision/test_backprop_gain.cpp).
constexpr int64_t kCrossingDraws = 2;

/// Per-minibatch element variance (population variance over every element of the tensor).
double element_variance(const torch::Tensor& g) { return g.to(torch::kDouble).var(/*unbiased=*/false).item<double>(); }

} // namespace

GradientProbe::GradientProbe(NetworkImpl& network) : network_(network) {
  std::map<std::string, bool> has_activation, has_gradient;
  for (const auto& p : network.quant_points()) {
    if (p->tensor_class() == TensorClass::kActivation) has_activation[p->layer()] = true;
    if (p->tensor_class() == TensorClass::kActivationGradient) {
      has_gradient[p->layer()] = true;
      p->set_observer(this);
    }
  }
  for (const auto& w : network.weight_quantizations()) {
    LayerStats l;
    l.name = w.layer;
    l.weights = w.weight.numel();
    l.has_activation = has_activation[w.layer];
    l.has_activation_gradient = has_gradient[w.layer];
    stats_.layers.push_back(l);
  }
  for (const auto& path : gradient_topology(network).paths)
    stats_.layer(path.ga_layer).ga_paths.push_back({path.weight_layer, to_string(path.kind), path.through, {}, {}});
}

GradientProbe::~GradientProbe() {
  for (const auto& p : network_.quant_points())
    if (p->observer() == this) p->set_observer(nullptr);
}

void GradientProbe::on_backward(const QuantPoint& point, const torch::Tensor& gradient) {
  stats_.layer(point.layer()).activation_gradient.add(element_variance(gradient));
}

void GradientProbe::on_gradients(NetworkImpl& network) {
  for (const auto& w : network.weight_quantizations())
    if (w.weight.grad().defined()) stats_.layer(w.layer).weight_gradient.add(element_variance(w.weight.grad()));
}

void GradientProbe::on_epoch_start(int64_t epoch, NetworkImpl&, const data::Batch& first_batch) {
  stats_.epochs = epoch; // epochs measured so far; the final value is the run's length
  epoch_batch_ = first_batch;
}

void GradientProbe::on_epoch_end(int64_t, NetworkImpl& network) {
  for (auto& l : stats_.layers) {
    l.weight_gradient.end_epoch();
    if (l.has_activation_gradient) l.activation_gradient.end_epoch();
  }
  if (epoch_batch_) measure_backprop_gains(network);
}

void GradientProbe::measure_backprop_gains(NetworkImpl& network) {
  // After the epoch's updates, on its first batch (docs/precision-assignment.md section 1).
  const BackpropGains gains(network, *epoch_batch_);
  const auto& paths = gains.topology().paths;
  const auto measured = gains.path_gains(kCrossingDraws, /*seed=*/static_cast<uint64_t>(stats_.epochs));
  for (size_t i = 0; i < paths.size(); ++i) {
    for (auto& track : stats_.layer(paths[i].ga_layer).ga_paths) {
      if (track.weight_layer != paths[i].weight_layer) continue;
      track.lambda.push_back(measured[i].closed_max);
      if (paths[i].kind == PathKind::kIdentity) track.crossing.push_back(measured[i].crossing);
    }
  }
}

void GradientProbe::save_state(const std::string& run_dir) const {
  stats_.save((std::filesystem::path(run_dir) / kStateJson).string());
}

void GradientProbe::load_state(const std::string& run_dir) {
  const auto path = std::filesystem::path(run_dir) / kStateJson;
  if (std::filesystem::exists(path)) stats_ = ProbeStats::load(path.string());
}

} // namespace fxnn
