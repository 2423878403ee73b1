#include "fxnn/deploy/lowbit_finetune.h"

#include <cmath>
#include <stdexcept>

#include "fxnn/core/format.h"
#include "fxnn/deploy/calibration.h"
#include "fxnn/nn/module_walk.h"
#include "fxnn/train/trainer.h"

namespace fxnn::lowbit {

namespace {

/// The convolutions and dense layers of a network without batch norm, by name (the live modules).
class LayerFinder : public ModuleVisitor {
 public:
  void weighted_layer(const WeightedLayer& layer) override {
    if (layer.batch_norm) throw std::logic_error("lowbit: the fine-tuning network has batch norm in " + layer.name());
    layers[layer.name()] = layer;
  }
  void max_pool(const torch::nn::MaxPool2dImpl&, const ModuleRef&) override {}
  void flatten(const ModuleRef&) override {}
  void dropout(const ModuleRef&) override {}
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override {}
  void unsupported(const ModuleRef& where) override {
    throw std::runtime_error("lowbit: no low-bit form for module " + where.module->name());
  }

  std::map<std::string, WeightedLayer> layers;
};

/// A grid step as a plan entry: the format sB.F / uB.F when the step is a fixed 2^-F, else B-bit integer
/// codes (F = 0) scaled by the step, which training moves when it is learned.
QuantizerSpec grid_spec(int bits, bool is_signed, double step, bool learned) {
  const std::optional<int> e = exact_log2(step);
  if (e && !learned) return QuantizerSpec{Format(bits, -*e, is_signed)};
  return QuantizerSpec{Format(bits, 0, is_signed), Rounding::kNearest, step, learned};
}

} // namespace

void FinetuneOptions::validate() const {
  if (epochs < 1) throw std::invalid_argument("--finetune " + std::to_string(epochs) + " must be at least 1");
  if (!(lr > 0)) throw std::invalid_argument("--finetune-lr must be positive");
  if (!(momentum >= 0 && momentum < 1))
    throw std::invalid_argument("--finetune-momentum " + std::to_string(momentum) + " must be in [0, 1)");
}

void check_finetune(const LowbitOptions& conversion, const FinetuneOptions& options) {
  options.validate();
  if (conversion.granularity != Granularity::kLayer)
    throw std::invalid_argument("--finetune trains one grid per tensor: it takes --granularity layer");
  if (options.run_dir.empty()) throw std::invalid_argument("--finetune needs a run directory (--finetune-run)");
}

ExperimentConfig finetune_config(const ExperimentConfig& float_config, const FinetuneOptions& options) {
  options.validate();
  ExperimentConfig c = float_config;
  c.name = float_config.name + "_lowbit_finetune";
  c.model.batch_norm = false;
  // One entry per channel, also where the float run's config gives none (std 1: x = p / 255).
  c.transform.std.clear();
  for (int64_t ch = 0; ch < float_config.input_shape().channels; ++ch) {
    const double pixels = 255.0 * normalization_std(float_config.transform, ch);
    c.transform.std.push_back(std::ldexp(1.0, static_cast<int>(std::lround(std::log2(pixels)))) / 255.0);
  }
  c.train.epochs = options.epochs;
  c.optim.lr = options.lr;
  c.optim.momentum = options.momentum;
  if (options.seed) c.seed = *options.seed;
  // The last epoch at a tenth of the rate: the weights settle on their grid instead of hopping
  // between neighbouring codes at the end.
  c.optim.lr_milestones.clear();
  if (options.epochs >= 2) c.optim.lr_milestones.push_back(options.epochs);
  c.optim.lr_gamma = 0.1;
  c.optim.weight_clip = 0; // folded weights may exceed the float run's clip; the grids bound them
  return c;
}

std::vector<FloatLayer> finetune_start(const std::vector<FloatLayer>& float_network,
                                       const ExperimentConfig& float_config, const ExperimentConfig& finetune) {
  std::vector<FloatLayer> layers = float_network;
  for (auto& l : layers) {
    if (!l.weighted()) continue;
    // x = x' std' / std: the first layer takes x' (the new normalization) with W[:, c] std'_c / std_c.
    const int64_t channels = l.weight.size(1);
    std::vector<double> scale(static_cast<size_t>(channels));
    for (int64_t c = 0; c < channels; ++c)
      scale[static_cast<size_t>(c)] =
          normalization_std(finetune.transform, c) / normalization_std(float_config.transform, c);
    const auto s = torch::tensor(scale, torch::kDouble);
    l.weight = l.kind == FloatLayer::Kind::kConv2d ? l.weight * s.view({1, -1, 1, 1}) : l.weight * s.view({1, -1});
    break;
  }
  return layers;
}

void load_layers(NetworkImpl& network, const std::vector<FloatLayer>& layers) {
  torch::NoGradGuard no_grad;
  LayerFinder finder;
  walk_modules(network, finder);
  for (const auto& l : layers) {
    if (!l.weighted()) continue;
    const auto it = finder.layers.find(l.name);
    if (it == finder.layers.end()) throw std::logic_error("lowbit: the fine-tuning network has no layer " + l.name);
    const WeightedLayer& target = it->second;
    if (!target.bias().defined()) throw std::logic_error("lowbit: layer " + l.name + " has no bias to fold into");
    auto weight = target.weight(), bias = target.bias(); // handles of the live parameters
    weight.copy_(l.weight.view(weight.sizes()));
    bias.copy_(l.bias);
  }
}

PrecisionPlan grids_plan(const std::map<std::string, TrainedGrid>& grids, const std::map<std::string, int>& weight_bits,
                         int activation_bits, bool learned) {
  // Weights and hidden activations on the integer network's steps; gradients and weight accumulators in
  // float (no defaults).
  PrecisionPlan plan;
  plan.source = "fxnn lowbit --finetune grids";
  for (const auto& [name, g] : grids) {
    ClassSpecs specs{{TensorClass::kWeight, grid_spec(weight_bits.at(name), true, g.weight_step, learned)}};
    if (g.activation_step)
      specs[TensorClass::kActivation] = grid_spec(activation_bits, false, *g.activation_step, learned);
    plan.layers.push_back({name, std::move(specs)});
  }
  return plan;
}

FinetunedNetwork finetune_lowbit(const std::vector<FloatLayer>& float_network, const ExperimentConfig& float_config,
                                 const data::ImageDataset& train, const LowbitOptions& conversion,
                                 const FinetuneOptions& options) {
  check_finetune(conversion, options);
  FinetunedNetwork result;
  result.config = finetune_config(float_config, options);
  const auto start = finetune_start(float_network, float_config, result.config);

  // The grids: the converter's own steps for the start network in the conversion's mode (powers of
  // two in shift-clip, any steps in float-scale, whose plan entries are then scaled formats).
  LowbitOptions search = conversion;
  search.with_correction(Correction::kNone);
  search.trained_grids.clear();
  const LowbitConversion first = convert_to_lowbit(start, result.config, train, search);
  std::map<std::string, int> weight_bits;
  for (const auto& r : first.layers) {
    TrainedGrid g;
    g.weight_step = r.weight_step_min / r.input_step; // in the float network's units (eq. (5))
    if (r.activation_step_max > 0) g.activation_step = r.activation_step_min;
    result.grids[r.name] = g;
  }
  for (const auto& node : first.network.nodes)
    if (node.weight) weight_bits[node.name] = node.weight->format.bits;

  TrainerOptions t;
  t.config = result.config;
  // float-scale may learn its steps (any positive step is its to take); shift-clip keeps its powers of two.
  t.plan = grids_plan(result.grids, weight_bits, conversion.bits,
                      options.learn_steps && conversion.mode == LowbitMode::kFloatScale);
  t.out_dir = options.run_dir;
  t.resume = options.resume;
  t.quiet = options.quiet;
  t.initialize = [&start](NetworkImpl& network) { load_layers(network, start); };
  Trainer trainer(t);
  result.metrics = trainer.run();

  // The trained weights in a float network of the same layers (no quantization points to walk).
  Network trained = build_network(result.config, std::nullopt);
  {
    torch::NoGradGuard no_grad;
    const auto source = trainer.network().named_parameters();
    for (auto& p : trained->named_parameters()) p.value().copy_(source[p.key()]);
  }
  trained->eval();
  result.layers = float_layers(*trained);
  // Learned steps: the grids are where training left them.
  for (const auto& point : trainer.network().quant_points()) {
    const auto& spec = point->spec();
    if (!spec || !spec->learned) continue;
    const double step = spec->scale * spec->format.step();
    if (point->tensor_class() == TensorClass::kWeight) result.grids.at(point->layer()).weight_step = step;
    if (point->tensor_class() == TensorClass::kActivation) result.grids.at(point->layer()).activation_step = step;
  }
  return result;
}

} // namespace fxnn::lowbit
