#include "fxnn/synth/quantized_network.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fxnn::synth {

namespace {

constexpr int kMaxShift = 62; // shifts of int64_t values stay below the width
constexpr int kCodeBits = 62; // |code| < 2^62: sums of two codes fit int64_t

__int128 pow2(int k) { return static_cast<__int128>(1) << k; }

std::string where(size_t layer, int64_t neuron) {
  return "layer " + std::to_string(layer + 1) + " neuron " + std::to_string(neuron + 1);
}

} // namespace

void check_plan(const floatnet::FloatNetwork& net, const FormatPlan& plan) {
  if (static_cast<int64_t>(plan.input_frac.size()) != net.inputs())
    throw std::invalid_argument("format plan: " + std::to_string(plan.input_frac.size()) + " input formats for " +
                                std::to_string(net.inputs()) + " inputs");
  if (plan.layers.size() != net.layers.size())
    throw std::invalid_argument("format plan: " + std::to_string(plan.layers.size()) + " layers for " +
                                std::to_string(net.layers.size()));
  std::vector<int> previous = plan.input_frac;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const auto& formats = plan.layers[l];
    if (static_cast<int64_t>(formats.size()) != net.layers[l].outputs())
      throw std::invalid_argument("format plan: layer " + std::to_string(l + 1) + " has " +
                                  std::to_string(formats.size()) + " formats for " +
                                  std::to_string(net.layers[l].outputs()) + " neurons");
    const int max_in = *std::max_element(previous.begin(), previous.end());
    const int min_in = *std::min_element(previous.begin(), previous.end());
    for (size_t i = 0; i < formats.size(); ++i) {
      const NeuronFormat& f = formats[i];
      if (f.frac_acc < f.frac_weight + max_in)
        throw std::invalid_argument(
            "format plan: " + where(l, static_cast<int64_t>(i)) + ": Fa = " + std::to_string(f.frac_acc) +
            " < Fw + max F_in = " + std::to_string(f.frac_weight + max_in) + " (products must be exact)");
      if (f.frac_acc - f.frac_weight - min_in > kMaxShift || f.frac_acc - f.frac_out > kMaxShift)
        throw std::invalid_argument("format plan: " + where(l, static_cast<int64_t>(i)) + ": a shift exceeds 62 bits");
      if (f.frac_out > f.frac_acc)
        throw std::invalid_argument("format plan: " + where(l, static_cast<int64_t>(i)) +
                                    ": F = " + std::to_string(f.frac_out) + " > Fa = " + std::to_string(f.frac_acc));
    }
    previous.clear();
    for (const auto& f : formats) previous.push_back(f.frac_out);
  }
}

int64_t round_to_code(double value, int frac, Rounding rounding) {
  if (rounding != Rounding::kFloor && rounding != Rounding::kNearest)
    throw std::invalid_argument("synthesis supports the rounding modes floor and nearest, not " + to_string(rounding));
  if (!std::isfinite(value)) throw std::overflow_error("cannot quantize a value that is not finite");
  if (value == 0) return 0;
  // value = m * 2^e exactly, |m| < 2^53 an integer; then value * 2^frac = m * 2^s.
  int e = 0;
  const double mantissa = std::frexp(value, &e);
  const auto m = static_cast<int64_t>(std::ldexp(mantissa, 53));
  const int s = e - 53 + frac;
  if (s >= 0) {
    if (std::fabs(std::ldexp(value, frac)) >= std::ldexp(1.0, kCodeBits)) // ldexp is exact or inf
      throw std::overflow_error("the code of " + std::to_string(value) + " at " + std::to_string(frac) +
                                " fractional bits exceeds 62 bits");
    return static_cast<int64_t>(static_cast<__int128>(m) * pow2(s));
  }
  if (-s > 60) return rounding == Rounding::kFloor && m < 0 ? -1 : 0; // |m 2^s| < 2^-7
  return static_cast<int64_t>(shift_round(m, -s, rounding));
}

__int128 shift_round(__int128 v, int s, Rounding rounding) {
  if (s <= 0) return v;
  if (rounding == Rounding::kNearest) v += pow2(s - 1); // eq. (5): floor(v / 2^s + 1/2)
  return v >> s;                                        // arithmetic shift: floor, eq. (6)
}

__int128 QuantizedLayer::folded_weight(int64_t i, int64_t j) const {
  const size_t k = static_cast<size_t>(i * inputs + j);
  return static_cast<__int128>(weight[k]) * pow2(align[k]);
}

std::vector<int> QuantizedNetwork::output_frac() const {
  std::vector<int> out;
  if (!layers.empty())
    for (const auto& f : layers.back().formats) out.push_back(f.frac_out);
  return out;
}

QuantizedNetwork quantize_network(const floatnet::FloatNetwork& net, const InputBox& box, const FormatPlan& plan,
                                  Rounding rounding) {
  check_plan(net, plan);
  box.check_dimension(net.inputs(), net.source);
  QuantizedNetwork q;
  q.rounding = rounding;
  q.input_frac = plan.input_frac;
  for (size_t j = 0; j < box.size(); ++j) {
    q.input_code_lo.push_back(round_to_code(box.dims[j].lo, plan.input_frac[j], rounding));
    q.input_code_hi.push_back(round_to_code(box.dims[j].hi, plan.input_frac[j], rounding));
  }
  std::vector<int> previous = plan.input_frac;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    QuantizedLayer ql;
    ql.inputs = layer.inputs();
    ql.outputs = layer.outputs();
    ql.activation = layer.activation;
    ql.formats = plan.layers[l];
    for (int64_t i = 0; i < ql.outputs; ++i) {
      const NeuronFormat& f = ql.formats[static_cast<size_t>(i)];
      for (int64_t j = 0; j < ql.inputs; ++j) {
        ql.weight.push_back(round_to_code(layer.weight(i, j), f.frac_weight, rounding));
        ql.align.push_back(f.frac_acc - f.frac_weight - previous[static_cast<size_t>(j)]);
      }
      ql.bias.push_back(round_to_code(layer.bias(i), f.frac_acc, rounding));
      ql.clip.push_back(
          layer.activation == floatnet::Activation::kClippedRelu ? round_to_code(layer.clip, f.frac_out, rounding) : 0);
    }
    previous.clear();
    for (const auto& f : ql.formats) previous.push_back(f.frac_out);
    q.layers.push_back(std::move(ql));
  }
  return q;
}

std::vector<int64_t> evaluate_fixed(const QuantizedNetwork& q, const std::vector<int64_t>& x, int storage_bits) {
  const __int128 int64_max = std::numeric_limits<int64_t>::max(), int64_min = std::numeric_limits<int64_t>::min();
  const __int128 store_max = pow2(storage_bits - 1) - 1, store_min = -pow2(storage_bits - 1);
  auto check = [](__int128 v, __int128 lo, __int128 hi, size_t l, int64_t i, const char* what) {
    if (v < lo || v > hi) throw IntegerOverflow(where(l, i) + ": " + what + " overflows");
  };
  std::vector<int64_t> current = x, next;
  for (size_t l = 0; l < q.layers.size(); ++l) {
    const QuantizedLayer& ql = q.layers[l];
    next.assign(static_cast<size_t>(ql.outputs), 0);
    for (int64_t i = 0; i < ql.outputs; ++i) {
      __int128 acc = ql.bias[static_cast<size_t>(i)];
      for (int64_t j = 0; j < ql.inputs; ++j) {
        const __int128 w = ql.folded_weight(i, j);
        check(w, int64_min, int64_max, l, i, "a folded weight constant");
        const __int128 product = w * current[static_cast<size_t>(j)];
        check(product, int64_min, int64_max, l, i, "a product");
        acc += product;
        check(acc, int64_min, int64_max, l, i, "the accumulator");
      }
      const int s = ql.shift(i);
      if (q.rounding == Rounding::kNearest && s > 0)
        check(acc + pow2(s - 1), int64_min, int64_max, l, i, "the rounding add");
      __int128 v = shift_round(acc, s, q.rounding);
      if (ql.activation != floatnet::Activation::kLinear) v = std::max<__int128>(v, 0);
      if (ql.activation == floatnet::Activation::kClippedRelu)
        v = std::min<__int128>(v, ql.clip[static_cast<size_t>(i)]);
      check(v, store_min, store_max, l, i, "the stored output");
      next[static_cast<size_t>(i)] = static_cast<int64_t>(v);
    }
    current.swap(next);
  }
  return current;
}

std::vector<int64_t> quantize_inputs(const QuantizedNetwork& q, const std::vector<double>& x) {
  std::vector<int64_t> codes(x.size());
  for (size_t j = 0; j < x.size(); ++j) {
    if (std::isnan(x[j])) { // the generated wrapper maps NaN to the lower end of the box
      codes[j] = q.input_code_lo[j];
      continue;
    }
    const double limit = std::ldexp(1.0, 61 - q.input_frac[j]); // keeps round_to_code in range; clamped below
    const double v = std::clamp(x[j], -limit, limit);
    codes[j] = std::clamp(round_to_code(v, q.input_frac[j], q.rounding), q.input_code_lo[j], q.input_code_hi[j]);
  }
  return codes;
}

std::vector<double> evaluate_fixed_real(const QuantizedNetwork& q, const std::vector<double>& x) {
  const std::vector<int64_t> y = evaluate_fixed(q, quantize_inputs(q, x));
  const std::vector<int> frac = q.output_frac();
  std::vector<double> out(y.size());
  for (size_t i = 0; i < y.size(); ++i) out[i] = std::ldexp(static_cast<double>(y[i]), -frac[i]);
  return out;
}

} // namespace fxnn::synth
