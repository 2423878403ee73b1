#pragma once
// Analytic per-tensor precision assignment from probe statistics (spec sections 3-5,
// docs/precision-assignment.md).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fxnn/io/text_table.h"
#include "fxnn/precision/precision_plan.h"
#include "fxnn/precision/probe_stats.h"

namespace fxnn {

struct AssignOptions {
  double target_pm = 0.01; // the mismatch-probability budget of eq. (1)
};

/// One assigned tensor: its format and the quantity it came from.
struct AssignedTensor {
  std::string layer;
  TensorClass tensor_class;
  Format format;
  std::string statistic; // e.g. "E_W = 3.1e-04, offset +2"
};

struct BminCandidate {
  int b_min = 0;
  double bound = 0; // sum_T E_T Delta_T^2 of eq. (1)
};

struct Assignment {
  std::vector<AssignedTensor> tensors; // in layer order, classes W, A, GW, GA, acc
  std::vector<BminCandidate> candidates;
  int b_min = 0;
  double bound = 0;
  PrecisionPlan plan; // one override per layer, every number annotated
  double target_pm = 0;

  /// Everything above but the plan (which goes to its own YAML file), for reports.
  nlohmann::ordered_json to_json() const;
  static Assignment from_json(const nlohmann::json& j, const std::string& source);
};

/// Throws std::runtime_error naming the layer when a statistic makes a precision undefined
/// (a zero gradient variance, a missing noise gain) or wider than 62 bits.
Assignment assign_precisions(const ProbeStats& stats, const AssignOptions& options);

/// The table of assigned tensors: tensor, statistic, range, step, bits.
TextTable assignment_table(const Assignment& assignment);
/// The p_m bound of every candidate B_min.
TextTable candidate_table(const Assignment& assignment, double target_pm);

/// Smallest power of two >= x and largest power of two <= x, as exponents (x > 0).
int ceil_log2(double x);
int floor_log2(double x);

} // namespace fxnn
