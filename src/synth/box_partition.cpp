#include "fxnn/synth/box_partition.h"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "fxnn/synth/error_model.h"
#include "parallel.h"

namespace fxnn::synth {

namespace {

/// The outputs' error bound when every rounding has the same unit magnitude (inputs, shifts, and
/// weights in proportion to their inputs' magnitudes): which part is halved next.
double unit_error_bound(const ErrorGains& g) {
  if (g.gain.empty()) return 0.0;
  Eigen::VectorXd unit = Eigen::VectorXd::Ones(g.sources());
  for (size_t l = 0; l < g.input_magnitude.size(); ++l)
    for (size_t i = 0; i < g.input_magnitude[l].size(); ++i)
      unit(g.source(l, static_cast<int64_t>(i))) += g.input_magnitude[l][i];
  return (g.gain.back() * unit).maxCoeff();
}

struct Part {
  InputBox box;
  NetworkRanges ranges;
  ErrorGains gains;
  double score = 0.0;
  size_t cut = 0; // the input to halve next: the largest width times its gain to the outputs
};

Part analyse_part(const floatnet::FloatNetwork& net, InputBox box, RangeMode mode, double margin) {
  Part p;
  p.ranges = analyze_ranges(net, box, mode);
  p.gains = error_gains(net, p.ranges, margin);
  const ErrorGains& g = p.gains;
  p.score = unit_error_bound(g);
  double smear = -1.0;
  for (size_t j = 0; j < box.size(); ++j) {
    const double s = box.dims[j].width() * g.gain.back().col(static_cast<Eigen::Index>(j)).sum();
    if (box.dims[j].width() > 0 && s > smear) {
      smear = s;
      p.cut = j;
    }
  }
  p.box = std::move(box);
  return p;
}

/// The two halves of `box` along input j (the midpoint belongs to both: they cover the box).
std::pair<InputBox, InputBox> halves(const InputBox& box, size_t j) {
  InputBox lower = box, upper = box;
  const double mid = box.dims[j].lo / 2 + box.dims[j].hi / 2;
  lower.dims[j].hi = mid;
  upper.dims[j].lo = mid;
  return {lower, upper};
}

/// [lo, hi] becomes the hull of itself and [lo2, hi2], element by element.
void widen(std::vector<double>& lo, std::vector<double>& hi, const std::vector<double>& lo2,
           const std::vector<double>& hi2) {
  for (size_t i = 0; i < lo.size(); ++i) {
    lo[i] = std::min(lo[i], lo2[i]);
    hi[i] = std::max(hi[i], hi2[i]);
  }
}

} // namespace

NetworkRanges ranges_union(const std::vector<NetworkRanges>& parts) {
  if (parts.empty()) throw std::logic_error("ranges_union: no parts");
  NetworkRanges all = parts.front();
  all.parts.clear();
  for (size_t p = 1; p < parts.size(); ++p) {
    widen(all.input_lo, all.input_hi, parts[p].input_lo, parts[p].input_hi);
    for (size_t l = 0; l < all.layers.size(); ++l) {
      widen(all.layers[l].pre_lo, all.layers[l].pre_hi, parts[p].layers[l].pre_lo, parts[p].layers[l].pre_hi);
      widen(all.layers[l].post_lo, all.layers[l].post_hi, parts[p].layers[l].post_lo, parts[p].layers[l].post_hi);
    }
  }
  return all;
}

PartitionedBox partition_box(const floatnet::FloatNetwork& net, const InputBox& box, RangeMode mode, int64_t max_parts,
                             double margin, int threads) {
  if (max_parts < 1) throw std::invalid_argument("--partition " + std::to_string(max_parts) + " must be at least 1");
  std::vector<Part> parts{analyse_part(net, box, mode, margin)};
  std::vector<bool> point(1, false); // parts that cannot be cut
  while (static_cast<int64_t>(parts.size()) < max_parts) {
    size_t worst = parts.size();
    for (size_t p = 0; p < parts.size(); ++p)
      if (!point[p] && (worst == parts.size() || parts[p].score > parts[worst].score)) worst = p;
    if (worst == parts.size()) break;
    if (!(parts[worst].box.dims[parts[worst].cut].width() > 0)) {
      point[worst] = true;
      continue;
    }
    auto [lower, upper] = halves(parts[worst].box, parts[worst].cut);
    std::array<InputBox, 2> boxes{std::move(lower), std::move(upper)};
    std::array<Part, 2> analysed;
    detail::parallel_for(2, threads,
                         [&](size_t k) { analysed[k] = analyse_part(net, std::move(boxes[k]), mode, margin); });
    parts[worst] = std::move(analysed[0]);
    parts.push_back(std::move(analysed[1]));
    point.push_back(false);
  }
  if (parts.size() == 1) return {std::move(parts.front().ranges), std::move(parts.front().gains)};
  std::vector<NetworkRanges> ranges;
  std::vector<ErrorGains> gains;
  ranges.reserve(parts.size());
  gains.reserve(parts.size());
  for (Part& p : parts) {
    ranges.push_back(std::move(p.ranges));
    gains.push_back(std::move(p.gains));
  }
  PartitionedBox out{ranges_union(ranges), worst_of_parts(std::move(gains))};
  out.ranges.parts = std::move(ranges);
  return out;
}

} // namespace fxnn::synth
