#pragma once
// Analytic per-tensor precision assignment from probe statistics (spec sections 3-5,
// docs/precision-assignment.md).

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fxnn/io/text_table.h"
#include "fxnn/nn/precision_plan.h"
#include "fxnn/precision/probe_stats.h"

namespace fxnn {

struct AssignOptions {
  double target_pm = 0.01; // the mismatch-probability budget of eq. (1)
  /// Rounding of the G^(W) and G^(A) formats: nearest (the method) or stochastic (an ablation).
  Rounding gradient_rounding = Rounding::kNearest;
};

/// Which rule set a tensor's step (docs/precision-assignment.md sections 2-3).
enum class StepRule {
  kEqualization, // W, A: eq. (3)-(4)
  kSpread,       // G^(W): a quarter of its smallest spread, eq. (7)
  kNoiseBudget,  // G^(A): its back-propagated noise within the G^(W) budgets, eq. (15)
  kValidity,     // G^(A): no coarser than a quarter of its smallest spread, eq. (16)
  kSwamping,     // acc: the smallest update still changes it, eq. (10)
  kFloor,        // the narrowest word of its kind overrides the rules (a finer step than they need)
};
std::string to_string(StepRule rule);
StepRule parse_step_rule(const std::string& text);

/// One assigned tensor: its format, the rule that set its step and the quantities it came from.
struct AssignedTensor {
  std::string layer;
  TensorClass tensor_class;
  Format format;
  std::string statistic; // e.g. "E_W = 3.1e-04, offset +2"
  StepRule rule = StepRule::kEqualization;
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
/// (a zero gradient variance, a missing noise gain or path gain) or wider than 62 bits.
Assignment assign_precisions(const ProbeStats& stats, const AssignOptions& options);

/// The tensors whose step a floor set (finer than the rules need), as "layer.class" names.
std::vector<std::string> floored_tensors(const Assignment& assignment);

/// The table of assigned tensors: tensor, format, bits, range, step, rule, statistic.
TextTable assignment_table(const Assignment& assignment);
/// The p_m bound of every candidate B_min.
TextTable candidate_table(const Assignment& assignment, double target_pm);

/// Smallest power of two >= x and largest power of two <= x, as exponents (x > 0).
int ceil_log2(double x);
int floor_log2(double x);

} // namespace fxnn
