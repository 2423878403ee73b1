#include "fxnn/synth/error_model.h"

#include "fxnn/synth/quantized_network.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace fxnn::synth {

namespace {

/// Sums below are computed in double; this relative margin keeps ulog2 of them an upper bound.
constexpr double kSumMargin = 1.0 + 0x1p-40;

} // namespace

int rounding_exponent(Rounding rounding) { return rounding == Rounding::kNearest ? 1 : 0; }

int ulog2(double m) {
  if (!(m > 0)) return kMinExponent;
  int e = 0;
  std::frexp(m, &e); // m = f 2^e, f in [0.5, 1): m < 2^e
  return std::max(e, kMinExponent);
}

ValueBounds value_bounds(double magnitude, double fallback) {
  ValueBounds v;
  v.magnitude = magnitude;
  const int p = ulog2(magnitude > 0 ? magnitude : fallback);
  const double slack = std::ldexp(1.0, p) - magnitude;
  if (slack >= std::ldexp(1.0, p - kSlackBits)) {
    v.cap = slack / 2;
    v.storage_int = p + 1;
  } else {
    v.cap = std::ldexp(1.0, p);
    v.storage_int = p + 2;
  }
  int e = 0;
  std::frexp(v.cap, &e); // cap in [2^(e-1), 2^e)
  v.cap_exponent = e - 1;
  return v;
}

SynthesisBounds synthesis_bounds(const floatnet::FloatNetwork& net, const NetworkRanges& ranges) {
  SynthesisBounds b;
  for (size_t j = 0; j < ranges.input_lo.size(); ++j) {
    const double m = std::max(std::fabs(ranges.input_lo[j]), std::fabs(ranges.input_hi[j]));
    b.inputs.push_back(value_bounds(m, std::ldexp(1.0, kMinExponent)));
  }
  std::vector<ValueBounds> previous_values = b.inputs;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    const LayerRanges& lr = ranges.layers[l];
    std::vector<NeuronBounds> neurons(static_cast<size_t>(layer.outputs()));
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      NeuronBounds& n = neurons[static_cast<size_t>(i)];
      const size_t ui = static_cast<size_t>(i);
      const double pre = std::max(std::fabs(lr.pre_lo[ui]), std::fabs(lr.pre_hi[ui]));
      n.value = value_bounds(std::max(std::fabs(lr.post_lo[ui]), std::fabs(lr.post_hi[ui])),
                             pre > 0 ? pre : std::ldexp(1.0, kMinExponent));
      double max_w = 0.0;
      for (int64_t j = 0; j < layer.inputs(); ++j) {
        const double w = std::fabs(layer.weight(i, j));
        const ValueBounds& in = previous_values[static_cast<size_t>(j)];
        n.row_l1 += w;
        n.weight_sum += in.magnitude + in.cap;
        max_w = std::max(max_w, w);
      }
      n.row_l1 *= kSumMargin;
      n.weight_sum *= kSumMargin;
      n.weight_int0 = ulog2(max_w);
      const double slack = std::ldexp(1.0, n.weight_int0 - kMinWeightBits);
      n.weight_int = ulog2((max_w + slack) * kSumMargin);
      n.min_frac_weight = kMinWeightBits - n.weight_int0;
      double acc = std::fabs(layer.bias(i)) + 2 * n.value.cap; // bias error + rounding add
      for (int64_t j = 0; j < layer.inputs(); ++j) {
        const ValueBounds& in = previous_values[static_cast<size_t>(j)];
        acc += (std::fabs(layer.weight(i, j)) + slack) * (in.magnitude + in.cap);
      }
      n.acc_int = ulog2(acc * kSumMargin);
    }
    previous_values.clear();
    for (const auto& n : neurons) previous_values.push_back(n.value);
    b.layers.push_back(std::move(neurons));
  }
  return b;
}

void bound_artifact_accumulators(const floatnet::FloatNetwork& net, int acc, SynthesisBounds& b) {
  int storage = kMinExponent; // the largest storage_int of the layer's inputs
  for (const ValueBounds& v : b.inputs) storage = std::max(storage, v.storage_int);
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    int need = kMinExponent;
    for (int64_t k = 0; k < layer.outputs(); ++k) {
      const NeuronBounds& n = b.layers[l][static_cast<size_t>(k)];
      const double slack = std::ldexp(1.0, n.weight_int0 - kMinWeightBits);
      const double row = layer.weight.row(k).cwiseAbs().sum() + slack * static_cast<double>(layer.inputs());
      const double sum = row * std::ldexp(1.0, storage - 1) + std::fabs(layer.bias(k)) + 1;
      // +1: the value stays below 2^62, leaving room for the rounding constant 2^(shift - 1) <= 2^61.
      need = std::max(need, ulog2(sum * kSumMargin) + 1 - (64 - acc));
    }
    storage = kMinExponent;
    for (NeuronBounds& n : b.layers[l]) {
      n.acc_int = std::max(n.acc_int, need);
      storage = std::max(storage, n.value.storage_int);
    }
  }
}

namespace {

/// The stored formats of one layer (or of the inputs) brought to the finest common one (eq. (53)).
void make_uniform(std::vector<int>& fracs) {
  const int common = *std::min_element(fracs.begin(), fracs.end());
  std::fill(fracs.begin(), fracs.end(), common);
}

} // namespace

/// The finest formats the word sizes allow (eq. (32)-(33)), all constraints of check_plan kept.
FormatPlan finest_plan(const floatnet::FloatNetwork& net, const SynthesisBounds& b, int word, int acc,
                       const FinestPlanOptions& options) {
  // Inputs of layer l + 1 are kept no finer than its accumulator can take with weights
  // `traded_weight_bits` below their full width.
  std::vector<int> input_limit(net.layers.size() + 1, 1000);
  for (size_t l = 0; l < net.layers.size(); ++l)
    for (const NeuronBounds& n : b.layers[l])
      input_limit[l] =
          std::min(input_limit[l], (acc - 1 - n.acc_int) - (word - 1 - n.weight_int - options.traded_weight_bits));
  FormatPlan plan;
  for (const auto& v : b.inputs) plan.input_frac.push_back(std::min(word - v.storage_int, input_limit[0]));
  if (options.uniform_storage) make_uniform(plan.input_frac);
  std::vector<int> previous = plan.input_frac;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const int max_in = *std::max_element(previous.begin(), previous.end());
    std::vector<NeuronFormat> formats;
    for (const NeuronBounds& n : b.layers[l]) {
      NeuronFormat f;
      f.frac_acc = acc - 1 - n.acc_int;
      f.frac_weight = std::min(word - 1 - n.weight_int, f.frac_acc - max_in);
      f.frac_acc = std::min(f.frac_acc, f.frac_weight + max_in + 62 - 1);
      f.frac_out = std::min({word - n.value.storage_int, f.frac_acc, input_limit[l + 1]});
      formats.push_back(f);
    }
    if (options.uniform_storage) {
      std::vector<int> out;
      out.reserve(formats.size());
      for (const auto& f : formats) out.push_back(f.frac_out);
      make_uniform(out);
      for (size_t i = 0; i < formats.size(); ++i) formats[i].frac_out = out[i]; // coarser: F <= Fa still holds
    }
    previous.clear();
    for (const auto& f : formats) previous.push_back(f.frac_out);
    plan.layers.push_back(std::move(formats));
  }
  return plan;
}

int64_t ErrorGains::sources() const { return gain.empty() ? inputs : inputs + offset.back() + gain.back().rows(); }

ErrorGains worst_of_parts(std::vector<ErrorGains> each) {
  if (each.empty()) throw std::logic_error("worst_of_parts: no parts");
  ErrorGains all = each.front();
  for (size_t p = 1; p < each.size(); ++p) {
    const ErrorGains& g = each[p];
    for (size_t l = 0; l < all.gain.size(); ++l) {
      all.gain[l] = all.gain[l].cwiseMax(g.gain[l]);
      all.pre_gain[l] = all.pre_gain[l].cwiseMax(g.pre_gain[l]);
      for (size_t i = 0; i < all.stable_slack[l].size(); ++i) {
        all.stable_slack[l][i] = std::min(all.stable_slack[l][i], g.stable_slack[l][i]);
        all.input_magnitude[l][i] = std::max(all.input_magnitude[l][i], g.input_magnitude[l][i]);
      }
    }
  }
  for (size_t l = 0; l < all.dead.size(); ++l)
    for (size_t i = 0; i < all.dead[l].size(); ++i) all.dead[l][i] = std::isfinite(all.stable_slack[l][i]);
  // Each part's bound is needed at the outputs only (one row per output and part): its hidden
  // layers' matrices go, which for a few hundred parts of a wide network are most of the memory.
  for (ErrorGains& part : each)
    for (size_t l = 0; l + 1 < part.gain.size(); ++l) {
      part.gain[l] = Eigen::MatrixXd();
      part.pre_gain[l] = Eigen::MatrixXd();
    }
  all.parts = std::move(each);
  return all;
}

ErrorGains error_gains(const floatnet::FloatNetwork& net, const NetworkRanges& ranges, double margin) {
  if (!ranges.parts.empty()) {
    std::vector<ErrorGains> each;
    each.reserve(ranges.parts.size());
    for (const NetworkRanges& part : ranges.parts) each.push_back(error_gains(net, part, margin));
    return worst_of_parts(std::move(each));
  }
  ErrorGains g;
  g.inputs = net.inputs();
  int64_t total = 0;
  for (const auto& layer : net.layers) {
    g.offset.push_back(total);
    total += layer.outputs();
  }
  const int64_t sources = g.inputs + total;
  // a: signed coefficients of the original symbols; b: signed coefficients of the symbols created
  // where a neuron is split; radius.row(m): the radius of split symbol m per unit of each original
  // source (eq. (20c)). gain = |a| + |b| radius.
  Eigen::MatrixXd a = Eigen::MatrixXd::Zero(g.inputs, sources);
  a.leftCols(g.inputs).setIdentity();
  Eigen::MatrixXd b = Eigen::MatrixXd::Zero(g.inputs, 0), radius = Eigen::MatrixXd::Zero(0, sources);
  std::vector<double> magnitudes(ranges.input_lo.size());
  for (size_t j = 0; j < magnitudes.size(); ++j)
    magnitudes[j] = std::max(std::fabs(ranges.input_lo[j]), std::fabs(ranges.input_hi[j]));
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const floatnet::DenseLayer& layer = net.layers[l];
    const LayerRanges& lr = ranges.layers[l];
    a = layer.weight * a;
    b = layer.weight * b;
    double sum_magnitude = 0;
    for (double m : magnitudes) sum_magnitude += m;
    std::vector<Eigen::Index> split;
    for (int64_t i = 0; i < layer.outputs(); ++i) a(i, g.source(l, i)) += 1.0; // own rounding, pre-activation
    g.pre_gain.push_back(a.cwiseAbs() + b.cwiseAbs() * radius);
    std::vector<double> slack(static_cast<size_t>(layer.outputs()), std::numeric_limits<double>::infinity());
    std::vector<bool> dead(static_cast<size_t>(layer.outputs()), false);
    for (int64_t i = 0; i < layer.outputs(); ++i) {
      if (layer.activation == floatnet::Activation::kLinear) continue;
      const double lo = lr.pre_lo[static_cast<size_t>(i)], hi = lr.pre_hi[static_cast<size_t>(i)];
      const bool clip_free = layer.activation == floatnet::Activation::kRelu || hi + margin <= layer.clip;
      if (lo >= margin && clip_free) { // stably active: exact
        slack[static_cast<size_t>(i)] =
            (layer.activation == floatnet::Activation::kRelu ? lo : std::min(lo, layer.clip - hi)) / 2;
        continue;
      }
      if (hi <= -margin) { // stably dead: no error
        slack[static_cast<size_t>(i)] = -hi / 2;
        dead[static_cast<size_t>(i)] = true;
        a.row(i).setZero();
        b.row(i).setZero();
        continue;
      }
      split.push_back(i);
    }
    g.stable_slack.push_back(std::move(slack));
    g.dead.push_back(std::move(dead));
    if (!split.empty()) { // s D = D/2 + (s - 1/2) D: halve, and a fresh symbol of radius |D|/2
      const Eigen::Index old = radius.rows();
      radius.conservativeResize(old + static_cast<Eigen::Index>(split.size()), Eigen::NoChange);
      b.conservativeResize(Eigen::NoChange, old + static_cast<Eigen::Index>(split.size()));
      b.rightCols(static_cast<Eigen::Index>(split.size())).setZero();
      for (size_t k = 0; k < split.size(); ++k) {
        const Eigen::Index i = split[k];
        radius.row(old + static_cast<Eigen::Index>(k)) =
            0.5 * (a.row(i).cwiseAbs() + b.row(i).leftCols(old).cwiseAbs() * radius.topRows(old));
        a.row(i) *= 0.5;
        b.row(i) *= 0.5;
        b(i, old + static_cast<Eigen::Index>(k)) = 1.0;
      }
    }
    g.gain.push_back(a.cwiseAbs() + b.cwiseAbs() * radius);
    g.input_magnitude.emplace_back(static_cast<size_t>(layer.outputs()), sum_magnitude);
    magnitudes.clear();
    for (int64_t i = 0; i < layer.outputs(); ++i)
      magnitudes.push_back(
          std::max(std::fabs(lr.post_lo[static_cast<size_t>(i)]), std::fabs(lr.post_hi[static_cast<size_t>(i)])));
  }
  return g;
}

} // namespace fxnn::synth
