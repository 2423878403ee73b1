#include "fxnn/core/update_kernels.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "multiversion.h"
#include "quantize_element.h"

namespace fxnn {

namespace {

using namespace quantize_element;

// The same block size as the quantize kernels: 64 Ki elements (0.75 MiB of gradient, accumulator and
// weight) per unit of parallel work.
constexpr int64_t kBlock = 65536;

struct UpdateParams {
  bool quantize_gradient;
  QuantizeParams<float> gw;
  QuantizeParams<double> acc;
  QuantizeParams<double> w;
  double neg_lr;
  double clip; // <= 0: none
};

UpdateParams make_update_params(double lr, double clip, const UpdateQuantizer* gw, const UpdateQuantizer& acc_q,
                                const UpdateQuantizer& w_q) {
  UpdateParams p{};
  p.quantize_gradient = gw != nullptr;
  if (gw) p.gw = make_params<float>(gw->format, gw->rounding, gw->seed);
  p.acc = make_params<double>(acc_q.format, acc_q.rounding, acc_q.seed);
  p.w = make_params<double>(w_q.format, w_q.rounding, w_q.seed);
  p.neg_lr = -lr;
  p.clip = clip;
  return p;
}

/// One element by the definition, with the counts of each quantizer.
template <typename T>
T quantize_one(T x, const QuantizeParams<T>& p, int64_t index, SaturationCount& count) {
  return reference_code(x, p, index, count.below, count.above) * p.step;
}

double clamp_to(double x, double clip) {
  if (clip <= 0) return x;
  if (x < -clip) return -clip;
  if (x > clip) return clip;
  return x; // NaN stays NaN
}

/// The block body with every quantizer rounding to nearest, branch-free so that it vectorizes.
template <bool kQuantizeGradient, bool kClip>
FXNN_ALWAYS_INLINE UpdateCounts update_block_nearest(const float* __restrict gradient, double* __restrict acc,
                                                     float* __restrict weight, int64_t n, int64_t first,
                                                     const UpdateParams& params) {
  const UpdateParams p = params; // a local copy stays in registers across the stores
  int64_t gb = 0, ga = 0, ab = 0, aa = 0, wb = 0, wa = 0;
  for (int64_t i = 0; i < n; ++i) {
    float g = gradient[i];
    if constexpr (kQuantizeGradient)
      g = clamped_code<float, Rounding::kNearest>(g, first + i, p.gw, gb, ga) * p.gw.step;
    double a = std::fma(p.neg_lr, static_cast<double>(g), acc[i]);
    if constexpr (kClip) {
      a = a < -p.clip ? -p.clip : a;
      a = a > p.clip ? p.clip : a;
    }
    a = clamped_code<double, Rounding::kNearest>(a, first + i, p.acc, ab, aa) * p.acc.step;
    acc[i] = a;
    weight[i] = static_cast<float>(clamped_code<double, Rounding::kNearest>(a, first + i, p.w, wb, wa) * p.w.step);
  }
  return UpdateCounts{{gb, ga}, {ab, aa}, {wb, wa}};
}

/// Any rounding (stochastic gradients, the ablation): one element at a time.
UpdateCounts update_block_any(const float* gradient, double* acc, float* weight, int64_t n, int64_t first,
                              const UpdateParams& p) {
  UpdateCounts c;
  for (int64_t i = 0; i < n; ++i) {
    float g = gradient[i];
    if (p.quantize_gradient) g = quantize_one<float>(g, p.gw, first + i, c.gradient);
    const double a = quantize_one<double>(clamp_to(std::fma(p.neg_lr, static_cast<double>(g), acc[i]), p.clip), p.acc,
                                          first + i, c.accumulator);
    acc[i] = a;
    weight[i] = static_cast<float>(quantize_one<double>(a, p.w, first + i, c.weight));
  }
  return c;
}

FXNN_MULTIVERSION
UpdateCounts update_block(const float* gradient, double* acc, float* weight, int64_t n, int64_t first,
                          const UpdateParams& p) {
  const bool nearest = (!p.quantize_gradient || p.gw.rounding == Rounding::kNearest) &&
                       p.acc.rounding == Rounding::kNearest && p.w.rounding == Rounding::kNearest;
  if (!nearest) return update_block_any(gradient, acc, weight, n, first, p);
  const bool clip = p.clip > 0;
  if (p.quantize_gradient)
    return clip ? update_block_nearest<true, true>(gradient, acc, weight, n, first, p)
                : update_block_nearest<true, false>(gradient, acc, weight, n, first, p);
  return clip ? update_block_nearest<false, true>(gradient, acc, weight, n, first, p)
              : update_block_nearest<false, false>(gradient, acc, weight, n, first, p);
}

} // namespace

UpdateCounts accumulator_update_reference(const float* gradient, double* acc, float* weight, int64_t n, double lr,
                                          double clip, const UpdateQuantizer* gw, const UpdateQuantizer& acc_q,
                                          const UpdateQuantizer& w_q) {
  return update_block_any(gradient, acc, weight, n, 0, make_update_params(lr, clip, gw, acc_q, w_q));
}

UpdateCounts accumulator_update(const float* gradient, double* acc, float* weight, int64_t n, double lr, double clip,
                                const UpdateQuantizer* gw, const UpdateQuantizer& acc_q, const UpdateQuantizer& w_q) {
  const auto p = make_update_params(lr, clip, gw, acc_q, w_q);
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  int64_t gb = 0, ga = 0, ab = 0, aa = 0, wb = 0, wa = 0;
#pragma omp parallel for schedule(static) reduction(+ : gb, ga, ab, aa, wb, wa) if (blocks > 1)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t first = b * kBlock;
    const auto c = update_block(gradient + first, acc + first, weight + first, std::min(kBlock, n - first), first, p);
    gb += c.gradient.below;
    ga += c.gradient.above;
    ab += c.accumulator.below;
    aa += c.accumulator.above;
    wb += c.weight.below;
    wa += c.weight.above;
  }
  return UpdateCounts{{gb, ga}, {ab, aa}, {wb, wa}};
}

} // namespace fxnn
