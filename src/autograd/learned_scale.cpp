#include "fxnn/autograd/learned_scale.h"

#include <algorithm>
#include <cmath>

namespace fxnn {

double learned_scale_gradient(const torch::Tensor& x, const torch::Tensor& grad, const QuantizerSpec& spec,
                              int64_t per_sample) {
  torch::NoGradGuard no_grad;
  const Format& f = spec.format;
  const double step = f.step(); // 2^-F
  const double lo = static_cast<double>(f.code_min()), hi = static_cast<double>(f.code_max());
  const auto r = x.to(torch::kDouble) / (spec.scale * step);
  const auto floor = r.floor();
  const auto rounded = floor + (r - floor).ge(0.5).to(torch::kDouble); // the one tie rule, eq. (5)
  const auto below = rounded.lt(lo), above = rounded.gt(hi);
  const auto derivative =
      torch::where(below, torch::full_like(r, lo), torch::where(above, torch::full_like(r, hi), rounded - r));
  const double sum = (grad.to(torch::kDouble) * derivative).sum().item<double>() * step;
  return sum / std::sqrt(static_cast<double>(std::max<int64_t>(per_sample, 1)) * hi);
}

double learned_scale_step(double scale, double gradient, double lr) {
  return std::clamp(scale - lr * gradient, scale / 2, 2 * scale);
}

} // namespace fxnn
