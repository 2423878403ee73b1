#include "fxnn/optim/fixed_point_sgd.h"

#include <optional>

#include "fxnn/autograd/learned_scale.h"
#include "fxnn/core/update_kernels.h"

namespace fxnn {

namespace {

bool has_fixed_point_state(const WeightQuantization& w) {
  return w.weight_point->is_quantized() || w.accumulator_point->is_quantized();
}

/// W = Q_W(W_acc), or W_acc itself when W is float; written into the layer's float32 weight.
/// Q_W is applied to the float64 accumulator before the cast: casting first would round twice and
/// could move a value onto a tie of Q_W. W formats of up to 24 bits are exact in float32.
/// `scratch` (float64, the accumulator's shape) holds Q_W(W_acc) on the way.
void write_weight(const WeightQuantization& w, const torch::Tensor& accumulator, const torch::Tensor& scratch) {
  torch::NoGradGuard no_grad;
  if (w.weight_point->is_quantized())
    w.weight.copy_(w.weight_point->quantize_into(accumulator, scratch).values);
  else
    w.weight.copy_(accumulator);
}

} // namespace

FixedPointSGD::FixedPointSGD(std::vector<WeightQuantization> weights, std::vector<torch::Tensor> float_parameters,
                             FixedPointSGDOptions options)
    : float_parameters_(std::move(float_parameters)), options_(options) {
  for (auto& w : weights) weights_.push_back({std::move(w), torch::Tensor(), torch::Tensor(), torch::Tensor()});
  float_velocities_.resize(float_parameters_.size());
}

void FixedPointSGD::initialize_accumulators() {
  torch::NoGradGuard no_grad;
  for (auto& state : weights_) {
    if (!has_fixed_point_state(state.weight)) {
      state.accumulator = torch::Tensor();
      continue;
    }
    auto accumulator = state.weight.weight.detach().to(torch::kDouble);
    if (options_.weight_clip() > 0) accumulator.clamp_(-options_.weight_clip(), options_.weight_clip());
    if (state.weight.accumulator_point->is_quantized())
      accumulator = state.weight.accumulator_point->quantize(accumulator).values;
    state.accumulator = accumulator;
    state.scratch = torch::empty_like(accumulator);
    write_weight(state.weight, state.accumulator, state.scratch);
  }
  // Velocities exist from the start (zeros), so that every process of a run holds the same state tensors.
  if (options_.momentum() > 0) {
    for (auto& state : weights_) state.velocity = torch::zeros_like(state.weight.weight);
    for (size_t i = 0; i < float_parameters_.size(); ++i)
      float_velocities_[i] = torch::zeros_like(float_parameters_[i]);
  }
}

std::vector<torch::Tensor> FixedPointSGD::state_tensors() const {
  std::vector<torch::Tensor> tensors;
  for (const auto& state : weights_) {
    if (state.accumulator.defined()) tensors.push_back(state.accumulator);
    if (state.velocity.defined()) tensors.push_back(state.velocity);
  }
  for (const auto& v : float_velocities_)
    if (v.defined()) tensors.push_back(v);
  return tensors;
}

void FixedPointSGD::zero_grad() {
  for (auto& state : weights_)
    if (state.weight.weight.grad().defined()) state.weight.weight.mutable_grad().zero_();
  for (auto& p : float_parameters_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

void FixedPointSGD::step() {
  torch::NoGradGuard no_grad;
  for (auto& state : weights_) {
    const WeightQuantization& w = state.weight;
    if (!w.weight.grad().defined()) continue;
    auto gradient = regularized_gradient(w, w.weight.grad(), 1.0);
    if (fused_update(state, gradient)) continue;
    if (w.gradient_point->is_quantized()) gradient = w.gradient_point->quantize(gradient.contiguous()).values;
    update_weight(state, gradient);
  }
  for (size_t i = 0; i < float_parameters_.size(); ++i) step_float(float_parameters_[i], float_velocities_[i]);
  step_learned_scales();
  ++steps_;
}

void FixedPointSGD::step_learned_scales() {
  for (auto& point : learned_points_)
    if (point->spec() && point->spec()->learned)
      point->set_scale(learned_scale_step(point->spec()->scale, point->take_scale_gradient(), options_.lr()));
}

void FixedPointSGD::apply_gradients() {
  torch::NoGradGuard no_grad;
  for (auto& state : weights_)
    if (state.weight.weight.grad().defined()) update_weight(state, state.weight.weight.grad());
  for (size_t i = 0; i < float_parameters_.size(); ++i) step_float(float_parameters_[i], float_velocities_[i]);
  step_learned_scales();
  ++steps_;
}

torch::Tensor FixedPointSGD::regularized_gradient(const WeightQuantization& weight, const torch::Tensor& gradient,
                                                  double share) const {
  if (options_.weight_decay() <= 0) return gradient;
  return gradient + (share * options_.weight_decay()) * weight.weight.detach();
}

void FixedPointSGD::update_weight(WeightState& state, torch::Tensor gradient) {
  const WeightQuantization& w = state.weight;
  if (options_.momentum() > 0) {
    if (!state.velocity.defined()) state.velocity = torch::zeros_like(gradient);
    state.velocity.mul_(options_.momentum()).add_(gradient);
    gradient = state.velocity;
  }
  if (!state.accumulator.defined()) { // float weight: the baseline's update
    w.weight.sub_(gradient, options_.lr());
    if (options_.weight_clip() > 0) w.weight.clamp_(-options_.weight_clip(), options_.weight_clip());
    return;
  }
  // float64 arithmetic: lr * G and the sum are exact or correctly rounded far below any acc step.
  // Every temporary lives in the state (scratch) and the accumulator is updated in place: a fresh
  // tensor per step and per layer would be fresh pages to fault in (the weights of an FC layer are
  // megabytes), which costs more than the arithmetic.
  auto& accumulator = state.accumulator;
  // A learned W scale moves first, by dL/ds at the weights this step's forward pass used
  // (W = Q_s(W_acc), eq. (11) of docs/lowbit.md); the new W below is on the moved grid.
  if (const auto& spec = w.weight_point->spec(); spec && spec->learned)
    w.weight_point->set_scale(learned_scale_step(
        spec->scale, learned_scale_gradient(accumulator, gradient, *spec, accumulator.numel()), options_.lr()));
  if (!state.scratch.defined() || !state.scratch.sizes().equals(accumulator.sizes()))
    state.scratch = torch::empty_like(accumulator);
  state.scratch.copy_(gradient); // the float32 gradient in float64: exact
  accumulator.sub_(state.scratch, options_.lr());
  if (options_.weight_clip() > 0) accumulator.clamp_(-options_.weight_clip(), options_.weight_clip());
  if (w.accumulator_point->is_quantized()) w.accumulator_point->quantize_into(accumulator, accumulator);
  write_weight(w, accumulator, state.scratch);
}

bool FixedPointSGD::fused_update(WeightState& state, const torch::Tensor& gradient) {
  const WeightQuantization& w = state.weight;
  const auto concrete = [](const QuantPoint& point) {
    return point.is_quantized() && !point.spec()->format.auto_range && !point.spec()->scaled();
  };
  const auto& acc = state.accumulator;
  const bool applies = options_.momentum() <= 0 && acc.defined() && acc.is_cpu() && acc.is_contiguous() &&
                       acc.scalar_type() == torch::kDouble && gradient.is_cpu() &&
                       gradient.scalar_type() == torch::kFloat && w.weight.is_contiguous() &&
                       w.weight.scalar_type() == torch::kFloat && gradient.numel() == acc.numel() &&
                       concrete(*w.accumulator_point) && concrete(*w.weight_point) &&
                       (!w.gradient_point->is_quantized() || concrete(*w.gradient_point));
  if (!applies) return false;
  const auto g = gradient.contiguous();
  // The points draw their seeds in the order of the general path: GW, acc, W.
  std::optional<UpdateQuantizer> gw;
  if (w.gradient_point->is_quantized())
    gw = UpdateQuantizer{w.gradient_point->spec()->format, w.gradient_point->spec()->rounding,
                         w.gradient_point->seed_for_fused_call()};
  const UpdateQuantizer acc_q{w.accumulator_point->spec()->format, w.accumulator_point->spec()->rounding,
                              w.accumulator_point->seed_for_fused_call()};
  const UpdateQuantizer w_q{w.weight_point->spec()->format, w.weight_point->spec()->rounding,
                            w.weight_point->seed_for_fused_call()};
  const auto counts =
      accumulator_update(g.data_ptr<float>(), acc.data_ptr<double>(), w.weight.data_ptr<float>(), acc.numel(),
                         options_.lr(), options_.weight_clip(), gw ? &*gw : nullptr, acc_q, w_q);
  if (gw) w.gradient_point->record_fused_call(counts.gradient, g.numel());
  w.accumulator_point->record_fused_call(counts.accumulator, acc.numel());
  w.weight_point->record_fused_call(counts.weight, acc.numel());
  w.weight.unsafeGetTensorImpl()->bump_version(); // written in place, as copy_ would have
  return true;
}

void FixedPointSGD::step_float(torch::Tensor& parameter, torch::Tensor& velocity) {
  if (!parameter.grad().defined()) return;
  auto gradient = parameter.grad();
  if (options_.momentum() > 0) {
    if (!velocity.defined()) velocity = torch::zeros_like(gradient);
    velocity.mul_(options_.momentum()).add_(gradient);
    gradient = velocity;
  }
  parameter.sub_(gradient, options_.lr());
}

void FixedPointSGD::save(torch::serialize::OutputArchive& archive) const {
  archive.write("steps", torch::tensor(steps_));
  for (size_t i = 0; i < weights_.size(); ++i) {
    const auto& state = weights_[i];
    const std::string key = "weight." + state.weight.layer;
    if (state.accumulator.defined()) archive.write(key + ".accumulator", state.accumulator);
    if (state.velocity.defined()) archive.write(key + ".velocity", state.velocity);
  }
  for (size_t i = 0; i < float_velocities_.size(); ++i)
    if (float_velocities_[i].defined()) archive.write("float." + std::to_string(i) + ".velocity", float_velocities_[i]);
  for (const auto& point : learned_scale_points())
    archive.write("scale." + point->name(), torch::tensor(point->spec()->scale, torch::kDouble));
}

std::vector<QuantPointPtr> FixedPointSGD::learned_scale_points() const {
  std::vector<QuantPointPtr> points;
  for (const auto& state : weights_)
    if (state.weight.weight_point->spec() && state.weight.weight_point->spec()->learned)
      points.push_back(state.weight.weight_point);
  for (const auto& point : learned_points_)
    if (point->spec() && point->spec()->learned) points.push_back(point);
  return points;
}

void FixedPointSGD::load(torch::serialize::InputArchive& archive) {
  torch::Tensor steps;
  archive.read("steps", steps);
  // Every state tensor this run keeps must be in the archive with its shape, and no other: a float run's
  // checkpoint has no accumulators, and restoring it into a fixed-point run would silently keep the
  // initial ones (and so the initial weights).
  const auto read_matching = [&](const std::string& key, torch::Tensor& target) {
    torch::Tensor value;
    const bool found = archive.try_read(key, value);
    if (found && !target.defined())
      throw std::runtime_error("optimizer state " + key + " is not kept by this run (" +
                               (key.find(".accumulator") != std::string::npos
                                    ? "a fixed-point run's checkpoint in a float run"
                                    : "a run with momentum") +
                               ")");
    if (!found && target.defined())
      throw std::runtime_error("optimizer state " + key + " is missing (" +
                               (key.find(".accumulator") != std::string::npos
                                    ? "a float run's checkpoint in a fixed-point run"
                                    : "a run without momentum") +
                               ")");
    if (!found) return;
    if (value.sizes() != target.sizes())
      throw std::runtime_error("optimizer state " + key + " has another shape than this run's network");
    target = value;
  };
  for (auto& state : weights_) {
    const std::string key = "weight." + state.weight.layer;
    read_matching(key + ".accumulator", state.accumulator);
    read_matching(key + ".velocity", state.velocity);
  }
  for (size_t i = 0; i < float_velocities_.size(); ++i)
    read_matching("float." + std::to_string(i) + ".velocity", float_velocities_[i]);
  for (const auto& point : learned_scale_points()) {
    torch::Tensor scale;
    if (!archive.try_read("scale." + point->name(), scale))
      throw std::runtime_error("optimizer state scale." + point->name() + " is missing (a run without learned scales)");
    point->set_scale(scale.item<double>());
  }
  steps_ = steps.item<int64_t>();
}

} // namespace fxnn
