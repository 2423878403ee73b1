#include "fxnn/synth/error_attack.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace fxnn::synth {

namespace {

/// Steps end below a quarter of the input quantization step: finer moves stay inside one cell,
/// which the cell-end phase covers exactly.
constexpr double kFinestStepInCells = 0.25;

/// Kicks move every input by up to this many quantization cells: near the point found the error's
/// smooth part barely changes while every rounding takes a new value.
constexpr int kKickCells = 64;

/// The local search of one start: its state and its share of the budget.
class Climber {
 public:
  Climber(const floatnet::FloatNetwork& net, const InputBox& box, const QuantizedNetwork& q, int64_t budget,
          int64_t* used)
      : net_(net), box_(box), q_(q), first_(*used), stop_(*used + budget), used_(used) {}

  /// Climbs from `x` (of error `e`); leaves the best point found in x, e and `found_by`.
  void climb(std::vector<double>& x, double& e, std::string& found_by) {
    std::vector<double> step(box_.size());
    for (size_t d = 0; d < box_.size(); ++d) step[d] = box_.dims[d].width() / 8;
    descend(x, e, step, found_by);
  }

  /// Iterated local search from the point climbed to: a random kick of a few cells, a fine climb
  /// from there, kept when it ends higher; until the budget is spent. Deterministic in `seed`.
  void kick_and_climb(std::vector<double>& x, double& e, std::string& found_by, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> cells(-kKickCells, kKickCells);
    while (!exhausted()) {
      std::vector<double> y = x, step(x.size());
      for (size_t d = 0; d < x.size(); ++d) {
        const double cell = std::ldexp(1.0, -q_.input_frac[d]);
        y[d] = clamp(d, x[d] + cells(rng) * cell);
        step[d] = kKickCells * cell / 2;
      }
      if (y == x) return; // a box of points: nowhere to go
      double ey = evaluate(y);
      std::string by = "kick";
      descend(y, ey, step, by);
      if (ey > e) {
        x = std::move(y);
        e = ey;
        found_by = "kick";
      }
    }
  }

  bool exhausted() const { return *used_ >= stop_; }
  int64_t evaluations() const { return *used_ - first_; }

 private:
  /// Coordinate search and pattern moves with halving steps, then the ends of the input cells.
  void descend(std::vector<double>& x, double& e, std::vector<double>& step, std::string& found_by) {
    while (!exhausted()) {
      const std::vector<double> base = x;
      if (explore(x, e, step)) {
        found_by = "coordinate search";
        pattern_moves(base, x, e, step, found_by);
        continue;
      }
      if (!halve(step)) break;
    }
    cell_ends(x, e, found_by);
  }

  double evaluate(const std::vector<double>& x) {
    ++*used_;
    return fixed_point_error(net_, q_, x);
  }

  double clamp(size_t d, double v) const { return std::clamp(v, box_.dims[d].lo, box_.dims[d].hi); }

  /// One sweep of +-step moves per coordinate, each kept when it raises the error.
  bool explore(std::vector<double>& x, double& e, const std::vector<double>& step) {
    bool moved = false;
    for (size_t d = 0; d < x.size() && !exhausted(); ++d)
      for (double sign : {1.0, -1.0}) {
        std::vector<double> y = x;
        y[d] = clamp(d, x[d] + sign * step[d]);
        if (y[d] == x[d] || exhausted()) continue;
        const double ey = evaluate(y);
        if (ey > e) {
          x = std::move(y);
          e = ey;
          moved = true;
          break;
        }
      }
    return moved;
  }

  /// Hooke-Jeeves: repeat the last successful displacement while it keeps helping.
  void pattern_moves(std::vector<double> base, std::vector<double>& x, double& e, const std::vector<double>& step,
                     std::string& found_by) {
    while (!exhausted()) {
      std::vector<double> p(x.size());
      for (size_t d = 0; d < x.size(); ++d) p[d] = clamp(d, 2 * x[d] - base[d]);
      if (p == x) return;
      double ep = evaluate(p);
      explore(p, ep, step);
      if (ep <= e) return;
      base = x;
      x = std::move(p);
      e = ep;
      found_by = "pattern move";
    }
  }

  /// Halves every step; false when all are below the finest useful one.
  bool halve(std::vector<double>& step) const {
    bool any = false;
    for (size_t d = 0; d < step.size(); ++d) {
      step[d] /= 2;
      any = any || step[d] >= kFinestStepInCells * std::ldexp(1.0, -q_.input_frac[d]);
    }
    return any;
  }

  /// Each input moved to either end of the quantization cell of its code (clamped to the box): the
  /// fixed-point output is the same over the cell, the float output is not.
  void cell_ends(std::vector<double>& x, double& e, std::string& found_by) {
    bool moved = true;
    while (moved && !exhausted()) {
      moved = false;
      const std::vector<int64_t> codes = quantize_inputs(q_, x);
      for (size_t d = 0; d < x.size() && !exhausted(); ++d) {
        const double cell = std::ldexp(1.0, -q_.input_frac[d]);
        const double centre = static_cast<double>(codes[d]) * cell;
        // nearest: code c covers [c - 1/2, c + 1/2) cells; floor: [c, c + 1).
        const double lo = q_.rounding == Rounding::kNearest ? centre - cell / 2 : centre;
        const double hi = std::nextafter(lo + cell, lo);
        for (double v : {lo, hi}) {
          std::vector<double> y = x;
          y[d] = clamp(d, v);
          if (y[d] == x[d] || exhausted()) continue;
          const double ey = evaluate(y);
          if (ey > e) {
            x = std::move(y);
            e = ey;
            found_by = "cell end";
            moved = true;
          }
        }
      }
    }
  }

  const floatnet::FloatNetwork& net_;
  const InputBox& box_;
  const QuantizedNetwork& q_;
  int64_t first_; // *used_ when this search began
  int64_t stop_;
  int64_t* used_;
};

} // namespace

double fixed_point_error(const floatnet::FloatNetwork& net, const QuantizedNetwork& q, const std::vector<double>& x) {
  const std::vector<double> y = evaluate_fixed_real(q, x);
  const std::vector<long double> exact = net.evaluate(std::vector<long double>(x.begin(), x.end()));
  long double worst = 0;
  for (size_t o = 0; o < exact.size(); ++o)
    worst = std::max(worst, std::fabs(static_cast<long double>(y[o]) - exact[o]));
  return static_cast<double>(worst);
}

AttackResult attack_error_bound(const floatnet::FloatNetwork& net, const InputBox& box, const QuantizedNetwork& q,
                                std::vector<AttackStart> starts, const AttackOptions& options) {
  AttackResult result;
  std::stable_sort(starts.begin(), starts.end(),
                   [](const AttackStart& a, const AttackStart& b) { return a.error > b.error; });
  if (!starts.empty()) {
    result.error = starts.front().error;
    result.input = starts.front().input;
    result.found_by = starts.front().kind;
  }
  // The first `starts` searches get an equal share of the budget each; what they leave goes to
  // searches from the next worst starts, in order, until it is spent.
  const int64_t first_share = options.evaluations / std::max(options.starts, 1);
  for (size_t s = 0; s < starts.size() && result.evaluations < options.evaluations; ++s) {
    const int64_t left = options.evaluations - result.evaluations;
    Climber climber(net, box, q, s < static_cast<size_t>(options.starts) ? std::min(left, first_share) : left,
                    &result.evaluations);
    std::vector<double> x = starts[s].input;
    double e = starts[s].error;
    std::string found_by = starts[s].kind;
    climber.climb(x, e, found_by);
    if (options.kicks && s < static_cast<size_t>(options.starts)) climber.kick_and_climb(x, e, found_by, s + 1);
    if (e > result.error) {
      result.error = e;
      result.input = std::move(x);
      result.found_by = found_by;
    }
    // A search that moved nowhere (every interval of the box a point) gives the rest nothing to do.
    if (climber.evaluations() == 0) break;
  }
  return result;
}

} // namespace fxnn::synth
