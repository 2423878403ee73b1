#include "fxnn/autograd/learned_scale.h"

#include <algorithm>
#include <cmath>

namespace fxnn {

namespace {

/// sum_i grad_i dQ/ds_i in units of 2^-F, in one pass (the activations of a conv layer are megabytes:
/// the tensor-op form below makes a dozen passes and temporaries over them).
template <typename T, typename G>
double derivative_sum(const T* x, const G* grad, int64_t n, double inverse_step, double lo, double hi) {
  double sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static) if (n > (int64_t{1} << 16))
  for (int64_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(x[i]) * inverse_step;
    const double f = std::floor(r);
    const double q = f + (r - f >= 0.5 ? 1.0 : 0.0); // the one tie rule, eq. (5)
    const double d = q < lo ? lo : (q > hi ? hi : q - r);
    sum += static_cast<double>(grad[i]) * d;
  }
  return sum;
}

double derivative_sum_tensor_ops(const torch::Tensor& x, const torch::Tensor& grad, double inverse_step, double lo,
                                 double hi) {
  const auto r = x.to(torch::kDouble) * inverse_step;
  const auto floor = r.floor();
  const auto rounded = floor + (r - floor).ge(0.5).to(torch::kDouble);
  const auto derivative = torch::where(rounded.lt(lo), torch::full_like(r, lo),
                                       torch::where(rounded.gt(hi), torch::full_like(r, hi), rounded - r));
  return (grad.to(torch::kDouble) * derivative).sum().item<double>();
}

} // namespace

double learned_scale_gradient(const torch::Tensor& x, const torch::Tensor& grad, const QuantizerSpec& spec,
                              int64_t per_sample) {
  torch::NoGradGuard no_grad;
  const Format& f = spec.format;
  const double step = f.step(); // 2^-F
  const double lo = static_cast<double>(f.code_min()), hi = static_cast<double>(f.code_max());
  const double inverse_step = 1.0 / (spec.scale * step);
  double sum = 0;
  const bool cpu = x.device().is_cpu() && grad.device().is_cpu() && x.sizes() == grad.sizes();
  if (cpu && x.scalar_type() == torch::kFloat && grad.scalar_type() == torch::kFloat) {
    const auto xc = x.contiguous(), gc = grad.contiguous();
    sum = derivative_sum(xc.data_ptr<float>(), gc.data_ptr<float>(), xc.numel(), inverse_step, lo, hi);
  } else if (cpu && x.scalar_type() == torch::kDouble && grad.scalar_type() == torch::kFloat) {
    const auto xc = x.contiguous(), gc = grad.contiguous(); // weights: the float64 accumulator
    sum = derivative_sum(xc.data_ptr<double>(), gc.data_ptr<float>(), xc.numel(), inverse_step, lo, hi);
  } else {
    sum = derivative_sum_tensor_ops(x, grad, inverse_step, lo, hi);
  }
  return sum * step / std::sqrt(static_cast<double>(std::max<int64_t>(per_sample, 1)) * hi);
}

double learned_scale_step(double scale, double gradient, double lr) {
  return std::clamp(scale - lr * gradient, scale / 2, 2 * scale);
}

} // namespace fxnn
