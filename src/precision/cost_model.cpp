#include "fxnn/precision/cost_model.h"

#include <cmath>
#include <map>
#include <stdexcept>

#include "fxnn/nn/layer_geometry.h"
#include "fxnn/nn/model_zoo.h"

namespace fxnn {

namespace {

constexpr int kFloatBits = 32;

/// What one forward pass of one sample shows about a weighted layer.
struct LayerShape {
  LayerGeometry geometry;
  int64_t weights = 0;
  int64_t input_height = 1, input_width = 1;
  int64_t output_elements = 0;  // |A_l| (and |G^(A)_l|) per sample
  std::string input_activation; // the A point feeding the layer ("" = the network input)
  std::string gradient_layer;   // the layer whose G^(A) point quantizes this layer's output gradient
  bool has_activation = false;  // an A point (the logits have none: they stay in float)
  bool first = false;           // no back-propagation to the input is needed
};

/// Records, during one forward pass, the input shapes of the layers and the A points executed before them.
class ShapeObserver : public PointObserver {
 public:
  void on_forward(const QuantPoint& point, const torch::Tensor& value) override {
    if (point.tensor_class() == TensorClass::kWeight) {
      auto& shape = inputs_[point.layer()];
      shape = value.sizes().vec();
      feeding_[point.layer()] = last_activation_;
    } else if (point.tensor_class() == TensorClass::kActivationGradient) {
      outputs_[point.layer()] = value.numel();
      last_activation_ = point.layer();
    }
  }
  void on_backward(const QuantPoint&, const torch::Tensor&) override {}

  std::map<std::string, std::vector<int64_t>> inputs_;
  std::map<std::string, int64_t> outputs_;
  std::map<std::string, std::string> feeding_;
  std::string last_activation_;
};

std::vector<LayerShape> measure_shapes(const ExperimentConfig& config) {
  torch::manual_seed(config.seed);
  auto network = make_network(config.model, config.input_shape());
  clear_precision(*network);
  ShapeObserver observer;
  for (auto& p : network->quant_points()) p->set_observer(&observer);
  network->eval();
  const auto shape = config.input_shape();
  network->forward(torch::zeros({1, shape.channels, shape.height, shape.width}));
  for (auto& p : network->quant_points()) p->set_observer(nullptr);

  std::map<std::string, bool> has_activation;
  for (const auto& p : network->quant_points())
    if (p->tensor_class() == TensorClass::kActivation) has_activation[p->layer()] = true;
  std::vector<LayerShape> shapes;
  for (const auto& g : layer_geometries(*network)) {
    LayerShape s;
    s.geometry = g;
    s.weights = g.out_channels * g.in_channels * g.kernel * g.kernel;
    const auto& in = observer.inputs_.at(g.name);
    if (in.size() == 4) {
      s.input_height = in[2];
      s.input_width = in[3];
    }
    // A projection shortcut has no activation point of its own: its output gradient is the block's
    // (the G^(A) point of <block>.conv2), and it reads the block input, like <block>.conv1.
    const auto dot = g.name.rfind(".shortcut");
    const bool shortcut = dot != std::string::npos;
    const std::string block = shortcut ? g.name.substr(0, dot) : "";
    s.gradient_layer = shortcut ? block + ".conv2" : g.name;
    s.input_activation = observer.feeding_.at(shortcut ? block + ".conv1" : g.name);
    s.output_elements = observer.outputs_.count(s.gradient_layer) ? observer.outputs_.at(s.gradient_layer) : 0;
    s.has_activation = has_activation[s.gradient_layer];
    s.first = s.input_activation.empty();
    shapes.push_back(s);
  }
  return shapes;
}

int plan_bits(const PrecisionPlan& plan, const std::string& layer, TensorClass c) {
  const auto spec = plan.resolve(layer, c);
  return spec ? spec->format.bits : kFloatBits;
}

} // namespace

double dot_product_cost(double length, int bits_a, int bits_w) {
  // eq. (11): D B_a B_w (partial products) + (D - 1)(B_a + B_w + ceil(log2 D) - 1) (the adder tree)
  if (length <= 0) return 0;
  return length * bits_a * bits_w + (length - 1) * (bits_a + bits_w + std::ceil(std::log2(length)) - 1);
}

std::vector<CostScheme> standard_schemes(const PrecisionPlan& plan) {
  auto uniform = [](int w, int a, int gw, int ga, int acc) {
    return [=](const std::string&) { return LayerBits{w, a, gw, ga, acc}; };
  };
  std::vector<CostScheme> schemes;
  schemes.push_back({"FL", "32-bit float everywhere", kFloatBits, uniform(32, 32, 32, 32, 32)});
  schemes.push_back({"FX", "the precision plan " + plan.source, 8, [plan](const std::string& layer) {
                       return LayerBits{plan_bits(plan, layer, TensorClass::kWeight),
                                        plan_bits(plan, layer, TensorClass::kActivation),
                                        plan_bits(plan, layer, TensorClass::kWeightGradient),
                                        plan_bits(plan, layer, TensorClass::kActivationGradient),
                                        plan_bits(plan, layer, TensorClass::kAccumulator)};
                     }});
  schemes.push_back(
      {"BN", "binarized forward: 1-bit W and A, float gradients and accumulators", 8, uniform(1, 1, 32, 32, 32)});
  schemes.push_back({"SQ", "16-bit fixed point, float accumulators", 16, uniform(16, 16, 16, 16, 32)});
  schemes.push_back(
      {"TG", "TernGrad: ternary weight gradients, all else float", kFloatBits, uniform(32, 32, 2, 32, 32)});
  return schemes;
}

std::vector<TrainingCost> training_costs(const ExperimentConfig& config, const std::vector<CostScheme>& schemes) {
  const auto shapes = measure_shapes(config);
  const double batch = static_cast<double>(config.train.batch_size);
  std::vector<TrainingCost> costs;
  for (const auto& scheme : schemes) {
    TrainingCost cost;
    cost.scheme = scheme.name;
    for (const auto& s : shapes) {
      const auto& g = s.geometry;
      const LayerBits bits = scheme.bits(g.name);
      const LayerBits gradient_bits = scheme.bits(s.gradient_layer);
      const int input_bits =
          s.input_activation.empty() ? scheme.input_bits : scheme.bits(s.input_activation).activation;
      const double positions = static_cast<double>(g.output_positions(s.input_height, s.input_width));
      const double weights = static_cast<double>(s.weights);
      // Forward: C_out x P dot products of length C_in k^2, activations x weights.
      cost.forward += batch * g.out_channels * positions * dot_product_cost(g.dot_length(), input_bits, bits.weight);
      // Back-propagation to the layer input: C_in x H x W dot products of about C_out k^2 / stride^2 terms.
      if (!s.first) {
        const double inputs = static_cast<double>(g.in_channels * s.input_height * s.input_width);
        const double length = static_cast<double>(g.out_channels * g.kernel * g.kernel) / (g.stride * g.stride);
        cost.backward += batch * inputs * dot_product_cost(length, gradient_bits.activation_gradient, bits.weight);
      }
      // Weight gradient: one dot product of length batch x P per weight, activations x activation gradients.
      cost.weight_gradient +=
          weights * dot_product_cost(batch * positions, input_bits, gradient_bits.activation_gradient);
      cost.update += weights * bits.accumulator; // one B_acc-bit addition per weight
      cost.representational += weights * (bits.weight + bits.weight_gradient + bits.accumulator);
      if (s.gradient_layer == g.name) // a shortcut's output is its block's, counted once with <block>.conv2
        cost.representational += batch * static_cast<double>(s.output_elements) *
                                 ((s.has_activation ? bits.activation : kFloatBits) + bits.activation_gradient);
      cost.communication += weights * bits.weight_gradient;
    }
    cost.computational = cost.forward + cost.backward + cost.weight_gradient + cost.update;
    costs.push_back(cost);
  }
  return costs;
}

TextTable cost_table(const std::vector<TrainingCost>& costs) {
  TextTable table(
      {"scheme", "computational (1e9 FA/step)", "vs FL", "representational (MB)", "communication (MB/step)"});
  const double fl = costs.empty() ? 1.0 : costs.front().computational;
  for (const auto& c : costs)
    table.add_row({c.scheme, format_general(c.computational / 1e9, 4), format_general(c.computational / fl, 3),
                   format_general(c.representational / 8e6, 4), format_general(c.communication / 8e6, 4)});
  return table;
}

nlohmann::ordered_json cost_json(const std::vector<TrainingCost>& costs) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const auto& c : costs)
    j.push_back({{"scheme", c.scheme},
                 {"computational_fa", c.computational},
                 {"forward_fa", c.forward},
                 {"backward_fa", c.backward},
                 {"weight_gradient_fa", c.weight_gradient},
                 {"update_fa", c.update},
                 {"representational_bits", c.representational},
                 {"communication_bits", c.communication}});
  return j;
}

} // namespace fxnn
