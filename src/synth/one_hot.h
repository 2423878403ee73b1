#pragma once
// An integer variable pi in [lo, hi] written as sum_k k b_k over one-hot binaries b_k, so that 2^-pi
// is the linear expression sum_k 2^-k b_k (docs/synthesis.md eq. (39)). Shared by milp and aster.

#include <cmath>
#include <string>
#include <vector>

#include "fxnn/synth/linear_program.h"

namespace fxnn::synth {

struct OneHot {
  int lo = 0;
  std::vector<int> binaries; // binaries[k - lo] is 1 when pi = k

  int hi() const { return lo + static_cast<int>(binaries.size()) - 1; }

  /// Terms of scale * pi.
  std::vector<LinearProgram::Term> value_terms(double scale = 1.0) const {
    std::vector<LinearProgram::Term> t;
    for (size_t k = 0; k < binaries.size(); ++k) t.push_back({binaries[k], scale * (lo + static_cast<int>(k))});
    return t;
  }
  /// Terms of factor * 2^-(pi + shift).
  std::vector<LinearProgram::Term> pow2_terms(double factor, int shift = 0) const {
    std::vector<LinearProgram::Term> t;
    for (size_t k = 0; k < binaries.size(); ++k)
      t.push_back({binaries[k], factor * std::ldexp(1.0, -(lo + static_cast<int>(k) + shift))});
    return t;
  }
  /// The chosen value in a solution.
  int value(const std::vector<double>& solution) const {
    for (size_t k = 0; k < binaries.size(); ++k)
      if (solution[static_cast<size_t>(binaries[k])] > 0.5) return lo + static_cast<int>(k);
    return lo;
  }
};

/// A one-hot integer in [lo, hi] (hi >= lo).
inline OneHot add_one_hot(LinearProgram& lp, int lo, int hi, const std::string& name) {
  OneHot h;
  h.lo = lo;
  std::vector<LinearProgram::Term> sum;
  for (int k = lo; k <= hi; ++k) {
    h.binaries.push_back(lp.add_variable(0, 1, 0, true, name + "_" + std::to_string(k)));
    sum.push_back({h.binaries.back(), 1.0});
  }
  lp.add_constraint(sum, LinearProgram::Sense::kEqual, 1.0, name + "_one_hot");
  return h;
}

inline void append(std::vector<LinearProgram::Term>& to, const std::vector<LinearProgram::Term>& terms) {
  to.insert(to.end(), terms.begin(), terms.end());
}

} // namespace fxnn::synth
