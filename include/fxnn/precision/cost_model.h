#pragma once
// Training costs of a precision configuration (spec section 7, docs/precision-assignment.md section 5).

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "fxnn/config/experiment_config.h"
#include "fxnn/io/text_table.h"
#include "fxnn/nn/precision_plan.h"

namespace fxnn {

/// Word lengths of one layer's tensors in a scheme (float = 32).
struct LayerBits {
  int weight = 32, activation = 32, weight_gradient = 32, activation_gradient = 32, accumulator = 32;
};

/// A precision scheme: the bits of every layer, plus the bits of the network input.
struct CostScheme {
  std::string name;
  std::string description;
  int input_bits = 32;
  std::function<LayerBits(const std::string& layer)> bits;
};

/// The schemes of the spec: FL, the plan (FX), BN (binarized forward), SQ (16-bit, float
/// accumulators), TG (ternary weight gradients).
std::vector<CostScheme> standard_schemes(const PrecisionPlan& plan);

struct TrainingCost {
  std::string scheme;
  double computational = 0; // 1-bit full adders per training step (forward, back-propagation, weight gradient, updates)
  double forward = 0, backward = 0, weight_gradient = 0, update = 0; // the parts of `computational`
  double representational = 0; // bits of all training tensors (W, A, G^(W), G^(A), W_acc) of one step
  double communication = 0;    // bits of weight gradients per step: sum_l |W_l| B_GW(l)
};

/// eq. (11): full adders of a D-input dot product of B_a-bit and B_w-bit operands.
double dot_product_cost(double length, int bits_a, int bits_w);

/// Costs of each scheme for the network of the config, per training step of train.batch_size samples.
std::vector<TrainingCost> training_costs(const ExperimentConfig& config, const std::vector<CostScheme>& schemes);

TextTable cost_table(const std::vector<TrainingCost>& costs);
nlohmann::ordered_json cost_json(const std::vector<TrainingCost>& costs);

} // namespace fxnn
