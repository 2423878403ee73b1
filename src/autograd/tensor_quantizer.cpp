#include "fxnn/autograd/tensor_quantizer.h"

#include <cmath>

namespace fxnn {

namespace {

bool uses_cpu_kernel(const torch::Tensor& x) {
  return x.device().is_cpu() && x.is_contiguous() &&
         (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble);
}

double tensor_max_abs(const torch::Tensor& x) {
  if (x.numel() == 0) return 0.0;
  if (uses_cpu_kernel(x)) {
    if (x.scalar_type() == torch::kFloat) return max_abs(x.data_ptr<float>(), x.numel());
    return max_abs(x.data_ptr<double>(), x.numel());
  }
  return x.abs().max().item<double>();
}

/// A scaled spec's grid is the unit spec's grid of x / scale, times scale: the caller quantizes
/// `x / spec.scale` with `unit_spec(spec)` and then calls `rescale`.
QuantizerSpec unit_spec(const QuantizerSpec& spec) {
  QuantizerSpec unit = spec;
  unit.scale = 1.0;
  unit.learned = false; // the grid of x / scale is the format's own
  return unit;
}

TensorQuantization rescale(TensorQuantization result, double scale) {
  result.values.mul_(scale);
  result.scale = scale;
  return result;
}

} // namespace

Format resolve_format(const torch::Tensor& x, const Format& format) {
  return format.auto_range ? format.resolve_auto(tensor_max_abs(x)) : format;
}

TensorQuantization quantize_tensor(const torch::Tensor& x, const QuantizerSpec& spec, uint64_t seed) {
  if (spec.scaled()) return rescale(quantize_tensor(x / spec.scale, unit_spec(spec), seed), spec.scale);
  if (!uses_cpu_kernel(x)) {
    if (x.device().is_cpu() && !x.is_contiguous()) return quantize_tensor(x.contiguous(), spec, seed);
    return quantize_tensor_ops(x, spec);
  }
  return quantize_tensor_into(x, torch::empty_like(x), spec, seed);
}

TensorQuantization quantize_tensor_into(const torch::Tensor& x, const torch::Tensor& out, const QuantizerSpec& spec,
                                        uint64_t seed) {
  TORCH_CHECK(out.sizes() == x.sizes() && out.scalar_type() == x.scalar_type() && out.device() == x.device(),
              "quantize_tensor_into: the output differs from the input in shape, dtype or device");
  if (spec.scaled()) return rescale(quantize_tensor_into(x / spec.scale, out, unit_spec(spec), seed), spec.scale);
  if (!uses_cpu_kernel(x) || !out.is_contiguous()) {
    TensorQuantization result = quantize_tensor(x, spec, seed);
    out.copy_(result.values);
    result.values = out;
    return result;
  }
  TensorQuantization result;
  result.format = resolve_format(x, spec.format);
  result.values = out;
  if (x.scalar_type() == torch::kFloat)
    result.saturation =
        quantize(x.data_ptr<float>(), result.values.data_ptr<float>(), x.numel(), result.format, spec.rounding, seed);
  else
    result.saturation =
        quantize(x.data_ptr<double>(), result.values.data_ptr<double>(), x.numel(), result.format, spec.rounding, seed);
  return result;
}

TensorQuantization quantize_tensor_masked(const torch::Tensor& g, const torch::Tensor& x, double lo, double hi,
                                          const QuantizerSpec& spec, uint64_t seed) {
  if (spec.scaled())
    return rescale(quantize_tensor_masked(g / spec.scale, x, lo, hi, unit_spec(spec), seed), spec.scale);
  const bool fused =
      uses_cpu_kernel(g) && x.device().is_cpu() && x.scalar_type() == g.scalar_type() && x.sizes() == g.sizes();
  if (!fused) {
    auto result = quantize_tensor(g, spec, seed);
    result.values = result.values * x.ge(lo).logical_and_(x.le(hi));
    return result;
  }
  const auto xc = x.contiguous();
  TensorQuantization result;
  result.format = resolve_format(g, spec.format);
  result.values = torch::empty_like(g);
  if (g.scalar_type() == torch::kFloat)
    result.saturation =
        quantize_masked(g.data_ptr<float>(), xc.data_ptr<float>(), result.values.data_ptr<float>(), g.numel(),
                        result.format, spec.rounding, seed, static_cast<float>(lo), static_cast<float>(hi));
  else
    result.saturation = quantize_masked(g.data_ptr<double>(), xc.data_ptr<double>(), result.values.data_ptr<double>(),
                                        g.numel(), result.format, spec.rounding, seed, lo, hi);
  return result;
}

TensorQuantization quantize_tensor_ops(const torch::Tensor& x, const QuantizerSpec& spec) {
  torch::NoGradGuard no_grad;
  if (spec.scaled()) return rescale(quantize_tensor_ops(x / spec.scale, unit_spec(spec)), spec.scale);
  TensorQuantization result;
  result.format = resolve_format(x, spec.format);
  const Format& f = result.format;
  const auto scaled = x * std::ldexp(1.0, f.frac);
  const auto floor = scaled.floor();
  torch::Tensor codes;
  switch (spec.rounding) {
    case Rounding::kNearest: codes = floor + (scaled - floor).ge(0.5).to(x.scalar_type()); break;
    case Rounding::kFloor: codes = floor; break;
    case Rounding::kStochastic: codes = floor + torch::rand_like(x).lt(scaled - floor).to(x.scalar_type()); break;
  }
  const double lo = static_cast<double>(f.code_min()), hi = static_cast<double>(f.code_max());
  result.saturation.below = codes.lt(lo).sum().item<int64_t>();
  result.saturation.above = codes.gt(hi).sum().item<int64_t>();
  result.values = codes.clamp(lo, hi) * f.step();
  return result;
}

} // namespace fxnn
