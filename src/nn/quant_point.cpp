#include "fxnn/nn/quant_point.h"

#include <stdexcept>

#include "fxnn/core/seed.h"

namespace fxnn {

QuantPoint::QuantPoint(std::string layer, TensorClass tensor_class)
    : layer_(std::move(layer)), tensor_class_(tensor_class) {}

uint64_t QuantPoint::next_seed() {
  TORCH_CHECK(spec_.has_value(), "quantization point ", name(), " has no format");
  return mix_seed(mix_seed(seed_, stream_), calls_in_stream_++);
}

void QuantPoint::record(const TensorQuantization& result, int64_t numel) {
  seen_ += numel;
  saturated_ += result.format.is_signed ? result.saturation.total() : result.saturation.above;
  last_format_ = result.format;
}

TensorQuantization QuantPoint::quantize(const torch::Tensor& x) {
  auto result = quantize_tensor(x, *spec_, next_seed());
  record(result, x.numel());
  return result;
}

TensorQuantization QuantPoint::quantize_into(const torch::Tensor& x, const torch::Tensor& out) {
  auto result = quantize_tensor_into(x, out, *spec_, next_seed());
  record(result, x.numel());
  return result;
}

TensorQuantization QuantPoint::quantize(const torch::Tensor& x, const Format& resolved) {
  QuantizerSpec spec = *spec_;
  spec.format = resolved;
  auto result = quantize_tensor(x, spec, next_seed());
  record(result, x.numel());
  return result;
}

TensorQuantization QuantPoint::quantize_masked(const torch::Tensor& g, const torch::Tensor& x, double lo, double hi) {
  auto result = quantize_tensor_masked(g, x, lo, hi, *spec_, next_seed());
  record(result, g.numel());
  return result;
}

void QuantPoint::record_fused_call(const SaturationCount& count, int64_t numel) {
  TORCH_CHECK(spec_.has_value(), "quantization point ", name(), " has no format");
  record(TensorQuantization{torch::Tensor(), spec_->format, count}, numel);
}

double QuantPoint::saturation_rate() const {
  return seen_ == 0 ? 0.0 : static_cast<double>(saturated_) / static_cast<double>(seen_);
}

void QuantPoint::reset_stats() {
  seen_ = 0;
  saturated_ = 0;
}

} // namespace fxnn
