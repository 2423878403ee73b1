#include "fxnn/nn/quantize_functions.h"

#include <algorithm>

#include "fxnn/autograd/learned_scale.h"
#include "fxnn/core/straight_through.h"

namespace fxnn {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

/// dL/dy masked to the clipping range: the fused kernel of core on CPU, tensor ops elsewhere.
torch::Tensor straight_through_tensor(const torch::Tensor& x, const torch::Tensor& grad, double lo, double hi) {
  const bool cpu_float = x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
                         grad.scalar_type() == torch::kFloat && x.sizes() == grad.sizes();
  if (!cpu_float) return grad * x.ge(lo).logical_and_(x.le(hi));
  const auto xc = x.contiguous();
  const auto gc = grad.contiguous();
  auto out = torch::empty_like(gc);
  straight_through(xc.data_ptr<float>(), gc.data_ptr<float>(), out.data_ptr<float>(), xc.numel(),
                   static_cast<float>(lo), static_cast<float>(hi));
  return out;
}

QuantPointPtr point_of(AutogradContext* ctx, const char* key = "point") {
  const auto capsule = ctx->saved_data.at(key).toCapsule();
  return QuantPointPtr::reclaim_copy(static_cast<QuantPoint*>(capsule.get()));
}

/// Q(x), keeping x and the clipping range [min, max] of the format used for the backward mask, and the
/// point itself when its scale is learned.
torch::Tensor quantize_and_save_range(AutogradContext* ctx, const torch::Tensor& x, const QuantPointPtr& point) {
  auto q = point->quantize(x);
  if (point->spec()->learned) ctx->saved_data["learned"] = c10::IValue::make_capsule(point);
  ctx->save_for_backward({x});
  ctx->saved_data["min"] = q.min();
  ctx->saved_data["max"] = q.max();
  return q.values;
}

/// A learned scale collects dL/ds of eq. (11) of docs/lowbit.md; the optimizer takes it at its step.
void collect_scale_gradient(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& grad) {
  if (!ctx->saved_data.count("learned")) return;
  const auto point = point_of(ctx, "learned");
  const int64_t per_sample = x.dim() > 1 ? x.numel() / std::max<int64_t>(x.size(0), 1) : x.numel();
  point->add_scale_gradient(learned_scale_gradient(x, grad, *point->spec(), per_sample));
}

struct ForwardQuantize : public torch::autograd::Function<ForwardQuantize> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, const QuantPointPtr& point) {
    return quantize_and_save_range(ctx, x, point);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto x = ctx->get_saved_variables()[0];
    collect_scale_gradient(ctx, x, grad_outputs[0]);
    return {straight_through_tensor(x, grad_outputs[0], ctx->saved_data["min"].toDouble(),
                                    ctx->saved_data["max"].toDouble()),
            torch::Tensor()};
  }
};

struct GradientQuantize : public torch::autograd::Function<GradientQuantize> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, const QuantPointPtr& point) {
    ctx->saved_data["point"] = c10::IValue::make_capsule(point);
    if (point->observer()) point->observer()->on_forward(*point, x);
    return x.view_as(x); // identity; a view so autograd records this node
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto point = point_of(ctx);
    if (point->observer()) point->observer()->on_backward(*point, grad_outputs[0]);
    if (!point->is_quantized()) return {grad_outputs[0], torch::Tensor()};
    return {point->quantize(grad_outputs[0].contiguous()).values, torch::Tensor()};
  }
};

struct ActivationQuantize : public torch::autograd::Function<ActivationQuantize> {
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor x, const QuantPointPtr& activation,
                               const QuantPointPtr& gradient) {
    ctx->saved_data["point"] = c10::IValue::make_capsule(gradient);
    return quantize_and_save_range(ctx, x, activation);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto x = ctx->get_saved_variables()[0];
    collect_scale_gradient(ctx, x, grad_outputs[0]);
    auto q = point_of(ctx)->quantize_masked(grad_outputs[0].contiguous(), x, ctx->saved_data["min"].toDouble(),
                                            ctx->saved_data["max"].toDouble());
    return {q.values, torch::Tensor(), torch::Tensor()};
  }
};

} // namespace

torch::Tensor quantize_forward(const torch::Tensor& x, const QuantPointPtr& point) {
  if (!point->is_quantized()) return x;
  return ForwardQuantize::apply(x, point);
}

torch::Tensor quantize_gradient(const torch::Tensor& x, const QuantPointPtr& point) {
  if (!point->is_quantized() && !point->observer()) return x;
  return GradientQuantize::apply(x, point);
}

} // namespace fxnn

namespace fxnn {

torch::Tensor quantize_activation(const torch::Tensor& x, const QuantPointPtr& activation,
                                  const QuantPointPtr& gradient) {
  if (!activation->is_quantized() || !gradient->is_quantized() || gradient->observer())
    return quantize_gradient(quantize_forward(x, activation), gradient);
  return ActivationQuantize::apply(x, activation, gradient);
}

} // namespace fxnn
