#include "fxnn/deploy/lowbit_run.h"

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fxnn/data/dataset.h"
#include "fxnn/deploy/float_checkpoint.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/floatnet/onnx_layer_import.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/io/text_table.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/lowbit/shift_clip_check.h"
#include "fxnn/runtime/engine.h"

namespace fxnn::lowbit {

namespace {

/// "" for one step, "..hi" for a range of per-channel steps.
std::string per_channel_cell(double lo, double hi) { return lo == hi ? "" : ".." + format_general(hi); }

std::string bits_cell(uint64_t bound) {
  return std::to_string(bound) + " (" + std::to_string(signed_bits_for(bound)) + " b)";
}

/// What the converter chose, node by node (text table and JSON).
struct NodeReport {
  std::string table;
  nlohmann::ordered_json layers = nlohmann::json::array();
};

NodeReport node_report(const ir::Network& net, const LowbitConversion& conversion) {
  const runtime::Engine engine(net);
  TextTable table({"node", "op", "output", "weights", "step w", "step a", "n", "n*qw*qa+|b|", "sum|W|*qa", "acc (IR)",
                   "runtime kernel"});
  NodeReport report;
  size_t layer = 0;
  for (size_t i = 0; i < net.nodes.size(); ++i) {
    const auto& n = net.nodes[i];
    const std::string& kernel = engine.profile()[i].kernel;
    std::vector<std::string> row{n.name, ir::to_string(n.op), n.output_format.str()};
    if (!n.weight) {
      row.insert(row.end(), {"", "", "", "", "", "", "", kernel});
      table.add_row(row);
      continue;
    }
    const auto& r = conversion.layers.at(layer++);
    row.insert(row.end(),
               {n.weight->format.str() + " x " + std::to_string(n.weight->numel()),
                format_general(r.weight_step_min) + per_channel_cell(r.weight_step_min, r.weight_step_max),
                r.activation_step_max > 0 ? format_general(r.activation_step_min) +
                                                per_channel_cell(r.activation_step_min, r.activation_step_max)
                                          : "logits",
                std::to_string(r.fan_in), bits_cell(r.spec_bound), bits_cell(r.worst_case),
                std::to_string(r.accumulator_bits) + " bits", kernel});
    table.add_row(row);
    nlohmann::ordered_json l;
    l["name"] = r.name;
    l["fan_in"] = r.fan_in;
    l["weight_step"] = {r.weight_step_min, r.weight_step_max};
    l["activation_step"] = {r.activation_step_min, r.activation_step_max};
    l["weight_code_max"] = r.weight_code_max;
    l["input_code_max"] = r.input_code_max;
    l["bias_max"] = r.bias_max;
    l["spec_bound"] = r.spec_bound;
    l["spec_bound_bits"] = signed_bits_for(r.spec_bound);
    l["worst_case"] = r.worst_case;
    l["worst_case_bits"] = signed_bits_for(r.worst_case);
    l["accumulator_bits"] = r.accumulator_bits;
    l["significant_bits"] = r.significant_bits;
    l["bias_shift_max"] = r.bias_shift_max;
    l["scale"] = {r.scale_min, r.scale_max};
    l["kernel"] = kernel;
    report.layers.push_back(l);
  }
  report.table = table.aligned();
  return report;
}

/// The lines that say what was converted and how.
std::string conversion_header(const LowbitRunOptions& o, const ir::Network& net) {
  const LowbitOptions& c = o.conversion;
  std::string text = format_printf(
      "%s -> %s: %s, %d-bit weights and activations, %d-bit input, steps %s per %s, %lld "
      "calibration images, %s shifts, correction %s\n",
      o.source().c_str(), o.out.c_str(), to_string(c.mode).c_str(), c.bits, c.input_bits, to_string(c.steps).c_str(),
      to_string(c.granularity).c_str(), static_cast<long long>(c.calibration_images),
      c.rounding == Rounding::kNearest ? "rounding" : "truncating",
      to_string(o.finetune.epochs > 0 ? Correction::kNone : c.correction).c_str());
  if (c.edge_bits) text += format_printf("the first and the last layer's weights have %d bits\n", c.edge_bits);
  if (c.mode == LowbitMode::kShiftClip) {
    const auto violations = shift_clip_violations(net);
    if (!violations.empty())
      throw std::logic_error("lowbit: shift-clip network is not shift-and-clip: " + violations[0]);
    text +=
        "shift-clip: every multiplier is a power of two (a left shift), offsets are integers, one shift and a "
        "clamp per node: no floating-point operation\n";
  } else {
    text +=
        "float-scale: each u = alpha*acc + beta is held as an integer multiplier and offset with at least 24 "
        "significant bits (float32's precision) over a common shift, evaluated exactly in int64\n";
  }
  return text;
}

/// What the fine-tuning did, for the report and the JSON.
struct FinetuneSummary {
  FinetuneOptions options;
  uint64_t seed = 0; // of the run's config
  std::vector<EpochMetrics> metrics;
};

nlohmann::ordered_json results_json(const LowbitRunOptions& o, const LowbitConversion& conversion,
                                    const InferenceReport& r, double float_accuracy,
                                    const nlohmann::ordered_json& layers,
                                    const std::optional<FinetuneSummary>& finetuned) {
  const LowbitOptions& c = o.conversion;
  nlohmann::ordered_json j;
  j[o.onnx.empty() ? "checkpoint" : "onnx"] = o.source();
  j["model"] = o.out;
  j["mode"] = to_string(c.mode);
  j["bits"] = c.bits;
  j["input_bits"] = c.input_bits;
  j["edge_bits"] = c.edge_bits ? c.edge_bits : c.bits;
  j["steps"] = to_string(c.steps);
  j["granularity"] = to_string(c.granularity);
  j["rounding"] = fxnn::to_string(c.rounding);
  j["calibration_images"] = c.calibration_images;
  j["correction"] = to_string(finetuned ? Correction::kNone : c.correction);
  if (finetuned) {
    auto& f = j["finetune"];
    f["epochs"] = finetuned->options.epochs;
    f["lr"] = finetuned->options.lr;
    f["momentum"] = finetuned->options.momentum;
    f["seed"] = finetuned->seed;
    f["learn_steps"] = finetuned->options.learn_steps;
    f["run"] = finetuned->options.run_dir;
    f["metrics"] = nlohmann::json::array();
    for (const auto& m : finetuned->metrics) f["metrics"].push_back(m.to_json());
  }
  j["input_step"] = {conversion.input_step_min, conversion.input_step_max};
  j["samples"] = r.samples;
  j["float_accuracy"] = float_accuracy;
  j["accuracy"] = r.accuracy();
  j["prediction_mismatches"] = r.prediction_mismatches;
  j["code_mismatches"] = r.code_mismatches;
  j["layers"] = layers;
  return j;
}

/// The float network to convert: its layers, its config and its own forward pass (the reference).
struct FloatSource {
  ExperimentConfig config;
  std::vector<FloatLayer> layers;
  std::function<torch::Tensor(const torch::Tensor&)> forward;
  Network network{nullptr}; // a checkpoint's LibTorch network (kept alive for `forward`)
};

FloatSource checkpoint_source(const LowbitRunOptions& o) {
  TrainedRun run = load_float_checkpoint(o.checkpoint, o.config);
  FloatSource s{run.config, float_layers(*run.network), eval_forward(*run.network), run.network};
  return s;
}

/// An ONNX network in float64, layer by layer as the converter reads it.
FloatSource onnx_source(const LowbitRunOptions& o) {
  FloatSource s;
  s.config = ExperimentConfig::load(o.config);
  s.layers = float_layers(floatnet::read_onnx_layers(o.onnx), s.config.input_shape());
  s.forward = [layers = s.layers](const torch::Tensor& x) {
    torch::Tensor y = x.to(torch::kDouble);
    for (const auto& l : layers) y = forward(l, y);
    return y;
  };
  return s;
}

} // namespace

std::string LowbitRunOptions::source() const { return onnx.empty() ? checkpoint : onnx; }

void run_lowbit(const LowbitRunOptions& o, std::ostream& out_text) {
  o.conversion.validate(); // bad options fail before anything is read
  if (o.config.empty())
    throw std::invalid_argument("lowbit: give --config C.yaml (the data set and its normalization)");
  if (o.checkpoint.empty() == o.onnx.empty())
    throw std::invalid_argument("lowbit: give either --checkpoint (a float fxnn run) or --onnx (a float ONNX network)");
  const ExistingOutput existing = o.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
  check_output_folder(o.out, ir::network_folder_kind(), existing); // before minutes of conversion
  if (o.finetune.epochs > 0) {
    if (!o.onnx.empty())
      throw std::invalid_argument("--finetune trains fxnn networks: give the float run's --checkpoint");
    check_finetune(o.conversion, o.finetune); // before the data and the float network are read
  }
  const FloatSource source = o.onnx.empty() ? checkpoint_source(o) : onnx_source(o);
  const auto splits = data::load_dataset(source.config.data);
  const data::ImageDataset test = data::first_samples(splits.test, o.limit);
  LowbitConversion conversion;
  std::optional<FinetuneSummary> finetuned;
  if (o.finetune.epochs > 0) {
    // The float network trained on the grids first; the converter then takes those grids as they are.
    FinetunedNetwork f = finetune_lowbit(source.layers, source.config, splits.train, o.conversion, o.finetune);
    LowbitOptions fixed = o.conversion;
    fixed.trained_grids = f.grids;
    fixed.with_correction(Correction::kNone); // the biases were trained on the grids
    conversion = convert_to_lowbit(f.layers, f.config, splits.train, fixed);
    finetuned = FinetuneSummary{o.finetune, f.config.seed, f.metrics};
  } else {
    conversion = convert_to_lowbit(source.layers, source.config, splits.train, o.conversion);
  }
  ir::Network& net = conversion.network;
  net.source = o.source() + " (" + net.source + ")";
  ir::save_network(net, o.out, existing);

  out_text << conversion_header(o, net);
  if (finetuned && !finetuned->metrics.empty()) {
    const EpochMetrics& last = finetuned->metrics.back();
    out_text << format_printf(
        "fine-tuned for %lld epoch(s) at lr %g, momentum %g on the grids (run %s): test accuracy %.2f%% in training's "
        "simulation; "
        "biases as trained (correction none)\n",
        static_cast<long long>(last.epoch), finetuned->options.lr, finetuned->options.momentum,
        finetuned->options.run_dir.c_str(), 100.0 * last.test_acc);
  }
  const NodeReport nodes = node_report(net, conversion);
  out_text << "\n" << nodes.table << "\n" << std::flush;

  InferenceOptions inference;
  inference.batch_size = o.batch;
  inference.check = true;
  inference.quiet = o.quiet;
  inference.source_model = source.forward;
  inference.source_transform = source.config.transform;
  const InferenceReport r = run_inference(net, test, inference);
  const double float_accuracy = static_cast<double>(r.source_correct) / static_cast<double>(r.samples);
  out_text << format_printf("float model (LibTorch):           accuracy %.2f%% on %lld test samples\n",
                            100.0 * float_accuracy, static_cast<long long>(r.samples))
           << format_printf("low-bit network (integer runtime): accuracy %.2f%% (%+.2f points)\n", 100.0 * r.accuracy(),
                            100.0 * (r.accuracy() - float_accuracy))
           << format_printf(
                  "runtime vs the converter's simulation of the network (LibTorch): %lld prediction mismatches, "
                  "%lld of %lld output codes differ\n",
                  static_cast<long long>(r.prediction_mismatches), static_cast<long long>(r.code_mismatches),
                  static_cast<long long>(r.samples * r.outputs))
           << std::flush;
  if (!o.json.empty())
    write_file_atomic(o.json, results_json(o, conversion, r, float_accuracy, nodes.layers, finetuned).dump(2) + "\n");
  if (r.prediction_mismatches > 0 || r.code_mismatches > 0)
    throw std::runtime_error("the integer runtime disagrees with the converter's simulation");
}

} // namespace fxnn::lowbit
