#pragma once
// Stochastic gradient descent with a fixed-point weight accumulator (spec section 5,
// docs/fixed-point-training.md section 4).

#include <torch/torch.h>

#include <vector>

#include "fxnn/nn/quantized_layer.h"

namespace fxnn {

struct FixedPointSGDOptions {
  explicit FixedPointSGDOptions(double lr) : lr_(lr) {}
  TORCH_ARG(double, lr);
  /// Heavy-ball momentum (0 = off, the method's plain SGD). The velocity of a quantized weight is
  /// kept in float and sums already-quantized gradients.
  TORCH_ARG(double, momentum) = 0.0;
  /// Weights (accumulators) are clipped to [-clip, clip] after every update; 0 disables.
  TORCH_ARG(double, weight_clip) = 1.0;
  /// L2 penalty added to the gradient of weights before quantization (0 = off).
  TORCH_ARG(double, weight_decay) = 0.0;
};

/// For each weight tensor with points W, GW, acc:
///   G     = Q_GW(dL/dW)                       (float when GW has no format)
///   W_acc = Q_acc(clip(W_acc - lr * G))       (float64 state; plain float64 when acc has no format)
///   W     = Q_W(W_acc)                        (written into the layer's weight)
/// The accumulator is kept in float64, which holds every format of up to 53 bits exactly.
/// Float parameters (biases, batch norm) get plain SGD. A weight whose W, GW and acc are all float
/// gets plain float SGD with clipping, so the float baseline runs the same update rule.
class FixedPointSGD {
 public:
  FixedPointSGD(std::vector<WeightQuantization> weights, std::vector<torch::Tensor> float_parameters,
                FixedPointSGDOptions options);

  /// Sets accumulators from the current weights (W_acc = Q_acc(clip(W)), W = Q_W(W_acc)). Call after
  /// the points got their formats and before the first forward pass.
  void initialize_accumulators();
  /// Activation points whose scale is learned (spec().learned): each step moves their scale by the
  /// gradient their backward passes collected (learned_scale_step). Learned weight scales need no
  /// list: their W points belong to the weights.
  void set_learned_activation_points(std::vector<QuantPointPtr> points) { learned_points_ = std::move(points); }
  void zero_grad();
  /// Quantizes every weight's .grad() with its GW point (eq. (5)), then updates.
  void step();
  /// Updates with the weights' .grad() taken as G^(W) already (quantized and summed over micro-batches
  /// by the caller, docs/distributed.md); no quantization, no weight decay.
  void apply_gradients();
  /// dL/dW of a micro-batch that holds `share` of the step's samples, with its share of the weight decay.
  torch::Tensor regularized_gradient(const WeightQuantization& weight, const torch::Tensor& gradient,
                                     double share) const;

  FixedPointSGDOptions& options() { return options_; }
  int64_t steps() const { return steps_; }

  /// The tensors of the optimizer state (accumulators, velocities), all defined, in a fixed order: what
  /// the processes of a run share at the start.
  std::vector<torch::Tensor> state_tensors() const;

  /// Accumulators, velocities and the step count, for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  struct WeightState {
    WeightQuantization weight;
    torch::Tensor accumulator; // float64, same shape as the weight; undefined for a float weight
    torch::Tensor velocity;
    torch::Tensor scratch; // float64 like the accumulator: the step's temporaries, allocated once
  };
  void update_weight(WeightState& state, torch::Tensor gradient);
  /// The whole update of a fixed-point weight in one pass (core/update_kernels.h) where it applies
  /// (CPU, no momentum, concrete formats); false where the step must take the general path.
  bool fused_update(WeightState& state, const torch::Tensor& gradient);
  void step_float(torch::Tensor& parameter, torch::Tensor& velocity);
  void step_learned_scales();
  /// Every point whose scale this optimizer trains (W points of its weights, the activation points).
  std::vector<QuantPointPtr> learned_scale_points() const;

  std::vector<WeightState> weights_;
  std::vector<torch::Tensor> float_parameters_;
  std::vector<torch::Tensor> float_velocities_;
  std::vector<QuantPointPtr> learned_points_;
  FixedPointSGDOptions options_;
  int64_t steps_ = 0;
};

} // namespace fxnn
