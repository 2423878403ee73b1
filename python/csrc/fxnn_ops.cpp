// fxnn's quantizers as PyTorch operators (torch.ops.fxnn.*), with autograd, for Python: the library
// libfxnn_ops.so is loaded by `torch.ops.load_library` (python/fxnn). Nothing here is Python-specific:
// the operators are registered with the dispatcher, so C++ callers of the dispatcher see them too.
//
//   quantize(Tensor x, str format, str rounding="nearest", float scale=1.0, int seed=0) -> Tensor
//       Q_s(x) of docs/number-system.md eq. (8)/(9); backward: straight-through inside the clipping
//       range of the format used (an auto range resolved from max|x|), 0 outside.
//   quantize_gradient(Tensor x, str format, str rounding="nearest", int seed=0) -> Tensor
//       the identity; backward: Q(dL/dx), the G^(A) point of docs/fixed-point-training.md.
//   version() -> str
//       the package version (fxnn/version.h).
#include <torch/library.h>
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "fxnn/autograd/tensor_quantizer.h"
#include "fxnn/version.h"

namespace fxnn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

QuantizerSpec spec_of(const std::string& format, const std::string& rounding, double scale) {
  QuantizerSpec spec;
  try {
    spec = QuantizerSpec{Format::parse(format), parse_rounding(rounding), scale};
  } catch (const std::invalid_argument& e) { TORCH_CHECK_VALUE(false, "fxnn.quantize: ", e.what()); }
  TORCH_CHECK_VALUE(std::isfinite(scale) && scale > 0, "fxnn.quantize: scale must be positive and finite, got ", scale);
  TORCH_CHECK_VALUE(!(spec.scaled() && spec.format.auto_range), "fxnn.quantize: an auto range takes no scale");
  return spec;
}

void check_floating(const torch::Tensor& x) {
  TORCH_CHECK_TYPE(x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble,
                   "fxnn.quantize: float32 or float64 tensors only, got ", x.scalar_type());
}

/// The forward computation alone (below autograd, and for every backend: quantize_tensor takes the
/// fused CPU kernel where it applies and tensor ops elsewhere).
torch::Tensor quantize_values(const torch::Tensor& x, const std::string& format, const std::string& rounding,
                              double scale, int64_t seed) {
  check_floating(x);
  return quantize_tensor(x, spec_of(format, rounding, scale), static_cast<uint64_t>(seed)).values;
}

torch::Tensor identity(const torch::Tensor& x, const std::string& format, const std::string& rounding,
                       int64_t /*seed*/) {
  check_floating(x);
  spec_of(format, rounding, 1.0); // a bad format fails at the forward call, not in backward
  return x.clone();
}

struct QuantizeFunction : public torch::autograd::Function<QuantizeFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const std::string& format,
                               const std::string& rounding, double scale, int64_t seed) {
    check_floating(x);
    auto q = quantize_tensor(x, spec_of(format, rounding, scale), static_cast<uint64_t>(seed));
    ctx->save_for_backward({x});
    ctx->saved_data["min"] = q.min();
    ctx->saved_data["max"] = q.max();
    return q.values;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto x = ctx->get_saved_variables()[0];
    const double lo = ctx->saved_data["min"].toDouble(), hi = ctx->saved_data["max"].toDouble();
    const auto inside = x.ge(lo).logical_and_(x.le(hi));
    return {grad_outputs[0] * inside, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct GradientQuantizeFunction : public torch::autograd::Function<GradientQuantizeFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, const std::string& format,
                               const std::string& rounding, int64_t seed) {
    check_floating(x);
    spec_of(format, rounding, 1.0);
    ctx->saved_data["format"] = format;
    ctx->saved_data["rounding"] = rounding;
    ctx->saved_data["seed"] = seed;
    return x.view_as(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto spec = spec_of(ctx->saved_data["format"].toStringRef(), ctx->saved_data["rounding"].toStringRef(), 1.0);
    const auto g =
        quantize_tensor(grad_outputs[0].contiguous(), spec, static_cast<uint64_t>(ctx->saved_data["seed"].toInt()));
    return {g.values, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

torch::Tensor quantize_autograd(const torch::Tensor& x, const std::string& format, const std::string& rounding,
                                double scale, int64_t seed) {
  return QuantizeFunction::apply(x, format, rounding, scale, seed);
}

torch::Tensor quantize_gradient_autograd(const torch::Tensor& x, const std::string& format, const std::string& rounding,
                                         int64_t seed) {
  return GradientQuantizeFunction::apply(x, format, rounding, seed);
}

std::string version() { return kVersion; }

} // namespace
} // namespace fxnn

TORCH_LIBRARY(fxnn, m) {
  m.def("quantize(Tensor x, str format, str rounding=\"nearest\", float scale=1.0, int seed=0) -> Tensor");
  m.def("quantize_gradient(Tensor x, str format, str rounding=\"nearest\", int seed=0) -> Tensor");
  m.def("version() -> str", &fxnn::version);
}

TORCH_LIBRARY_IMPL(fxnn, CompositeExplicitAutograd, m) {
  m.impl("quantize", &fxnn::quantize_values);
  m.impl("quantize_gradient", &fxnn::identity);
}

TORCH_LIBRARY_IMPL(fxnn, Autograd, m) {
  m.impl("quantize", &fxnn::quantize_autograd);
  m.impl("quantize_gradient", &fxnn::quantize_gradient_autograd);
}
