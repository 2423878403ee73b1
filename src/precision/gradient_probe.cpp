#include "fxnn/precision/gradient_probe.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

namespace {

constexpr const char* kStateJson = "probe_state.json";
constexpr const char* kStateTensors = "probe_state.pt";
constexpr double kEmaDecay = 0.9; // spec section 4: s <- 0.9 s + 0.1 x, for the variances and for J

/// Per-minibatch element variance (population variance over every element of the tensor).
double element_variance(const torch::Tensor& g) { return g.to(torch::kDouble).var(/*unbiased=*/false).item<double>(); }

/// M_l[c_in][c_out] = mean over kernel positions of (dS/dW_l)^2 (spec section 4).
torch::Tensor j_matrix(const torch::Tensor& ds_dw) {
  auto squared = ds_dw.to(torch::kDouble).pow(2);
  if (squared.dim() == 4) squared = squared.mean({2, 3});
  return squared.t().contiguous();
}

} // namespace

GradientProbe::GradientProbe(NetworkImpl& network, int64_t j_epoch) : network_(network) {
  stats_.j_epoch = j_epoch;
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
}

GradientProbe::~GradientProbe() {
  for (const auto& p : network_.quant_points())
    if (p->observer() == this) p->set_observer(nullptr);
}

void GradientProbe::on_forward(const QuantPoint& point, const torch::Tensor& value) {
  if (capturing_activations_) activations_[point.layer()] = value;
}

void GradientProbe::on_backward(const QuantPoint& point, const torch::Tensor& gradient) {
  if (!capturing_activations_) stats_.layer(point.layer()).activation_gradient.add(element_variance(gradient));
}

void GradientProbe::on_gradients(NetworkImpl& network) {
  for (const auto& w : network.weight_quantizations())
    if (w.weight.grad().defined()) stats_.layer(w.layer).weight_gradient.add(element_variance(w.weight.grad()));
}

void GradientProbe::on_epoch_start(int64_t epoch, NetworkImpl& network, const data::Batch& first_batch) {
  stats_.epochs = epoch; // epochs measured so far; the final value is the run's length
  measure_j(network, first_batch);
}

void GradientProbe::measure_j(NetworkImpl& network, const data::Batch& batch) {
  // Batch norm in inference mode and no dropout, as the method's reference measures J.
  const bool was_training = network.is_training();
  network.eval();
  capturing_activations_ = true;
  activations_.clear();
  const auto logits = network.forward(batch.inputs);
  (void)logits;
  for (const auto& w : network.weight_quantizations()) {
    const auto found = activations_.find(w.layer);
    if (found == activations_.end()) continue; // no GA point (a shortcut projection)
    const auto& a = found->second;
    // S = sum_c mean_{n,h,w} A[n,c,h,w]
    const auto s = a.dim() == 4 ? a.mean({0, 2, 3}).sum() : a.mean(0).sum();
    const auto ds_dw = torch::autograd::grad({s}, {w.weight}, {}, /*retain_graph=*/true)[0];
    auto& ema = j_ema_[w.layer];
    const auto m = j_matrix(ds_dw);
    ema = ema.defined() ? kEmaDecay * ema + (1 - kEmaDecay) * m : (1 - kEmaDecay) * m;
    const int64_t t = ++j_updates_[w.layer];
    // Correct the EMA for its zero start (spec section 4, decision): divide by 1 - 0.9^t.
    const auto corrected = ema / (1 - std::pow(kEmaDecay, static_cast<double>(t)));
    auto& layer = stats_.layer(w.layer);
    layer.j_lambda.push_back(torch::linalg_svdvals(corrected)[0].item<double>());
    if (t <= stats_.j_epoch) layer.j_lambda_max = layer.j_lambda.back();
  }
  activations_.clear();
  capturing_activations_ = false;
  network.train(was_training);
}

void GradientProbe::on_epoch_end(int64_t, NetworkImpl&) {
  for (auto& l : stats_.layers) {
    l.weight_gradient.end_epoch();
    if (l.has_activation_gradient) l.activation_gradient.end_epoch();
  }
}

void GradientProbe::save_state(const std::string& run_dir) const {
  const auto dir = std::filesystem::path(run_dir);
  torch::serialize::OutputArchive archive;
  for (const auto& [layer, ema] : j_ema_) {
    archive.write("j." + layer, ema);
    archive.write("t." + layer, torch::tensor(j_updates_.at(layer)));
  }
  write_file_atomic((dir / kStateTensors).string(), [&](std::ostream& out) { archive.save_to(out); });
  stats_.save((dir / kStateJson).string());
}

void GradientProbe::load_state(const std::string& run_dir) {
  const auto dir = std::filesystem::path(run_dir);
  if (!std::filesystem::exists(dir / kStateJson)) return;
  auto loaded = ProbeStats::load((dir / kStateJson).string());
  loaded.j_epoch = stats_.j_epoch;
  stats_ = loaded;
  torch::serialize::InputArchive archive;
  archive.load_from((dir / kStateTensors).string());
  for (const auto& l : stats_.layers) {
    torch::Tensor ema, t;
    if (archive.try_read("j." + l.name, ema) && archive.try_read("t." + l.name, t)) {
      j_ema_[l.name] = ema;
      j_updates_[l.name] = t.item<int64_t>();
    }
  }
}

} // namespace fxnn
