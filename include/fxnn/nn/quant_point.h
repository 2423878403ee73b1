#pragma once
// A named place in a network where one tensor is quantized (or observed, in float).

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <string>

#include "fxnn/autograd/tensor_quantizer.h"
#include "fxnn/core/quantizer_spec.h"
#include "fxnn/nn/tensor_class.h"

namespace fxnn {

class QuantPoint;

/// Receives the tensors a point sees, for measurements such as the probe of the precision
/// assignment. Points call it whether or not they quantize.
///   GA points: forward = the activation tensor A whose gradient the point quantizes;
///              backward = dL/dA as it arrives, before quantization.
///   W points:  forward = the input x of the layer's linear map y = W x (+ b);
///              backward = dL/dy. Together they are the two factors of dL/dW, per sample.
class PointObserver {
 public:
  virtual ~PointObserver() = default;
  virtual void on_forward(const QuantPoint& point, const torch::Tensor& value) = 0;
  virtual void on_backward(const QuantPoint& point, const torch::Tensor& gradient) = 0;
};

/// One quantization point, e.g. `conv3.GA`: its spec (none = float), and counters of what it saw.
/// Held by intrusive pointer so that an autograd graph can keep it alive until backward has run.
class QuantPoint : public torch::CustomClassHolder {
 public:
  QuantPoint(std::string layer, TensorClass tensor_class);

  const std::string& layer() const { return layer_; }
  TensorClass tensor_class() const { return tensor_class_; }
  /// "<layer>.<class>", the stable name a plan addresses.
  std::string name() const { return layer_ + "." + to_string(tensor_class_); }

  const std::optional<QuantizerSpec>& spec() const { return spec_; }
  void set_spec(std::optional<QuantizerSpec> spec) {
    spec_ = std::move(spec);
    if (spec_) last_format_ = spec_->format;
  }
  bool is_quantized() const { return spec_.has_value(); }

  /// A learned scale (spec().learned): the gradient dL/ds that backward passes left here since the
  /// optimizer last took it, and the optimizer's move of the scale.
  void add_scale_gradient(double gradient) { scale_gradient_ += gradient; }
  double take_scale_gradient() {
    const double g = scale_gradient_;
    scale_gradient_ = 0;
    return g;
  }
  void set_scale(double scale) {
    TORCH_CHECK(spec_.has_value() && spec_->learned, "quantization point ", name(), " has no learned scale");
    spec_->scale = scale;
  }

  /// Base seed of stochastic rounding at this point.
  void set_seed(uint64_t seed) { seed_ = seed; }
  /// The random stream of the calls that follow (the trainer sets one per step and micro-batch, so a
  /// result does not depend on which process or in which order the micro-batches ran).
  void set_stream(uint64_t stream) {
    stream_ = stream;
    calls_in_stream_ = 0;
  }

  /// Quantizes x with this point's spec and records the saturation. Requires is_quantized().
  TensorQuantization quantize(const torch::Tensor& x);
  /// The same written into `out` (quantize_tensor_into; `out` may be x itself).
  TensorQuantization quantize_into(const torch::Tensor& x, const torch::Tensor& out);
  /// The same with the format given (an auto range resolved by the caller, e.g. over several tensors).
  TensorQuantization quantize(const torch::Tensor& x, const Format& resolved);
  /// Quantizes g and zeroes it where x is outside [lo, hi] (quantize_tensor_masked); records as quantize().
  TensorQuantization quantize_masked(const torch::Tensor& g, const torch::Tensor& x, double lo, double hi);

  /// For a kernel that applies this point's quantizer on the way through a larger computation
  /// (core/update_kernels.h): the seed of this call, then what it saturated, recorded as quantize() does.
  uint64_t seed_for_fused_call() { return next_seed(); }
  void record_fused_call(const SaturationCount& count, int64_t numel);

  /// Fraction of values saturated since the last reset_stats(). For unsigned formats only the top
  /// end counts: values below 0 are the clipped ReLU's zeros, not saturation.
  double saturation_rate() const;
  int64_t values_seen() const { return seen_; }
  int64_t values_saturated() const { return saturated_; }
  /// Replaces the counters (the trainer sums them over the processes of a run).
  void set_stats(int64_t seen, int64_t saturated) {
    seen_ = seen;
    saturated_ = saturated;
  }
  /// The format of the last quantization (auto ranges resolved); spec's format before any.
  Format last_format() const { return last_format_; }
  void reset_stats();

  /// The observer (not owned; nullptr for none). It must outlive every graph built while it is set.
  void set_observer(PointObserver* observer) { observer_ = observer; }
  PointObserver* observer() const { return observer_; }

 private:
  uint64_t next_seed();
  void record(const TensorQuantization& result, int64_t numel);

  std::string layer_;
  TensorClass tensor_class_;
  std::optional<QuantizerSpec> spec_;
  PointObserver* observer_ = nullptr;
  uint64_t seed_ = 0;
  uint64_t stream_ = 0;
  uint64_t calls_in_stream_ = 0;
  int64_t seen_ = 0;
  int64_t saturated_ = 0;
  double scale_gradient_ = 0;
  Format last_format_;
};

using QuantPointPtr = c10::intrusive_ptr<QuantPoint>;

} // namespace fxnn
