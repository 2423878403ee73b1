#include "fxnn/synth/ranges.h"

#include "zonotope.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace fxnn::synth {

using floatnet::DenseLayer;
using floatnet::FloatNetwork;

RangeMode parse_range_mode(const std::string& text) {
  if (text == "interval") return RangeMode::kInterval;
  if (text == "symbolic") return RangeMode::kSymbolic;
  throw std::invalid_argument("--ranges: unknown range analysis '" + text + "' (expected interval or symbolic)");
}

std::string to_string(RangeMode mode) { return mode == RangeMode::kInterval ? "interval" : "symbolic"; }

namespace {

using detail::activate_bound;
using detail::activate_zonotope;
using detail::affine;
using detail::input_zonotope;
using detail::pad;
using detail::Zonotope;

/// Interval arithmetic of eq. (24), widened by eq. (25).
void interval_layer(const DenseLayer& layer, const std::vector<double>& in_lo, const std::vector<double>& in_hi,
                    std::vector<double>& lo, std::vector<double>& hi) {
  const Eigen::Map<const Eigen::VectorXd> a(in_lo.data(), static_cast<Eigen::Index>(in_lo.size()));
  const Eigen::Map<const Eigen::VectorXd> b(in_hi.data(), static_cast<Eigen::Index>(in_hi.size()));
  const Eigen::MatrixXd wp = layer.weight.cwiseMax(0.0), wn = layer.weight.cwiseMin(0.0);
  const Eigen::VectorXd l = wp * a + wn * b + layer.bias;
  const Eigen::VectorXd h = wp * b + wn * a + layer.bias;
  const Eigen::VectorXd mag = layer.weight.cwiseAbs() * a.cwiseAbs().cwiseMax(b.cwiseAbs()) + layer.bias.cwiseAbs();
  const int64_t ops = layer.inputs() + 2;
  lo.resize(static_cast<size_t>(layer.outputs()));
  hi.resize(lo.size());
  for (int64_t i = 0; i < layer.outputs(); ++i) {
    const double p = pad(ops, mag(i));
    lo[static_cast<size_t>(i)] = l(i) - p;
    hi[static_cast<size_t>(i)] = h(i) + p;
  }
}

void meet(std::vector<double>& lo, std::vector<double>& hi, const std::vector<double>& lo2,
          const std::vector<double>& hi2) {
  for (size_t i = 0; i < lo.size(); ++i) {
    lo[i] = std::max(lo[i], lo2[i]);
    hi[i] = std::min(hi[i], hi2[i]);
  }
}

} // namespace

NetworkRanges analyze_ranges(const FloatNetwork& net, const InputBox& box, RangeMode mode) {
  box.check_dimension(net.inputs(), net.source);
  NetworkRanges ranges;
  ranges.mode = mode;
  for (const Interval& iv : box.dims) {
    ranges.input_lo.push_back(iv.lo);
    ranges.input_hi.push_back(iv.hi);
  }
  std::vector<double> lo = ranges.input_lo, hi = ranges.input_hi;
  Zonotope zono;
  if (mode == RangeMode::kSymbolic) zono = input_zonotope(lo, hi);
  for (const DenseLayer& layer : net.layers) {
    LayerRanges lr;
    interval_layer(layer, lo, hi, lr.pre_lo, lr.pre_hi);
    if (mode == RangeMode::kSymbolic) {
      zono = affine(layer.weight, layer.bias, zono);
      std::vector<double> zlo, zhi;
      zono.bounds(zlo, zhi);
      meet(lr.pre_lo, lr.pre_hi, zlo, zhi);
    }
    lr.post_lo.resize(lr.pre_lo.size());
    lr.post_hi.resize(lr.pre_lo.size());
    for (size_t i = 0; i < lr.pre_lo.size(); ++i) {
      lr.post_lo[i] = activate_bound(layer, lr.pre_lo[i]);
      lr.post_hi[i] = activate_bound(layer, lr.pre_hi[i]);
    }
    if (mode == RangeMode::kSymbolic) {
      activate_zonotope(layer, lr.pre_lo, lr.pre_hi, zono);
      std::vector<double> zlo, zhi;
      zono.bounds(zlo, zhi);
      meet(lr.post_lo, lr.post_hi, zlo, zhi);
    }
    lo = lr.post_lo;
    hi = lr.post_hi;
    ranges.layers.push_back(std::move(lr));
  }
  return ranges;
}

std::vector<RangeWidths> range_widths(const NetworkRanges& ranges) {
  std::vector<RangeWidths> out;
  for (const LayerRanges& lr : ranges.layers) {
    RangeWidths w;
    for (size_t i = 0; i < lr.pre_lo.size(); ++i) {
      const double width = lr.pre_hi[i] - lr.pre_lo[i];
      w.mean_width += width / static_cast<double>(lr.pre_lo.size());
      w.max_width = std::max(w.max_width, width);
      w.max_magnitude = std::max({w.max_magnitude, std::fabs(lr.pre_lo[i]), std::fabs(lr.pre_hi[i])});
    }
    out.push_back(w);
  }
  return out;
}

} // namespace fxnn::synth
