// fxnn lowbit --checkpoint FLOAT_CKPT --config C.yaml --mode float-scale|shift-clip --bits B
//             [--steps mse|maxabs] [--granularity layer|channel] [--calib N] [--input-bits N]
//             [--rounding nearest|floor] [--limit N] [--json FILE] --out OUT

#include <cstdio>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "commands.h"
#include "fxnn/data/dataset.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/io/atomic_file.h"
#include "fxnn/io/text_table.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/lowbit/float_checkpoint.h"
#include "fxnn/lowbit/lowbit_converter.h"
#include "fxnn/lowbit/shift_clip_check.h"
#include "fxnn/runtime/engine.h"
#include "fxnn/train/trainer.h"

namespace fxnn::cli {

namespace {

struct LowbitArgs {
  std::string checkpoint, config, out, json;
  std::string mode, steps = "mse", granularity = "layer", rounding = "nearest", correction = "bias";
  int bits = 0, input_bits = 8, edge_bits = 0;
  int64_t calib = 1000, limit = 0, batch = 256, threads = 0;
  bool quiet = false;
  bool force = false;
};

lowbit::LowbitOptions options_of(const LowbitArgs& a) {
  if (a.mode.empty()) throw std::invalid_argument("lowbit: give --mode float-scale or --mode shift-clip");
  lowbit::LowbitOptions o;
  o.with_mode(lowbit::parse_lowbit_mode(a.mode))
      .with_bits(a.bits)
      .with_input_bits(a.input_bits)
      .with_edge_bits(a.edge_bits)
      .with_steps(lowbit::parse_step_rule(a.steps))
      .with_granularity(lowbit::parse_granularity(a.granularity))
      .with_calibration_images(a.calib)
      .with_rounding(parse_rounding(a.rounding))
      .with_correction(lowbit::parse_correction(a.correction));
  o.validate();
  return o;
}

/// "" for one step, "..hi" for a range of per-channel steps.
std::string per_channel_cell(double lo, double hi) { return lo == hi ? "" : ".." + format_general(hi); }

std::string bits_cell(uint64_t bound) {
  return std::to_string(bound) + " (" + std::to_string(lowbit::signed_bits_for(bound)) + " b)";
}

void run_lowbit(const LowbitArgs& a) {
  const lowbit::LowbitOptions options = options_of(a); // bad options fail before anything is read
  configure_threads(a.threads); // LibTorch's calibration and simulation, and the integer runtime
  if (a.config.empty()) throw std::invalid_argument("lowbit: give --config C.yaml (the config of the checkpoint)");
  const ExistingOutput existing = a.force ? ExistingOutput::kReplace : ExistingOutput::kRefuse;
  check_output_folder(a.out, ir::network_folder_kind(), existing); // before minutes of conversion
  TrainedRun run = lowbit::load_float_checkpoint(a.checkpoint, a.config);
  const auto splits = data::load_dataset(run.config.data);
  data::ImageDataset test = splits.test;
  if (a.limit > 0 && a.limit < test.size()) {
    test.images = test.images.narrow(0, 0, a.limit);
    test.labels = test.labels.narrow(0, 0, a.limit);
  }
  lowbit::LowbitConversion conversion = lowbit::convert_to_lowbit(*run.network, run.config, splits.train, options);
  ir::Network& net = conversion.network;
  net.source = a.checkpoint + " (" + net.source + ")";
  ir::save_network(net, a.out, existing);

  const bool shift_clip = options.mode == lowbit::LowbitMode::kShiftClip;
  std::printf("%s -> %s: %s, %d-bit weights and activations, %d-bit input, steps %s per %s, %lld calibration images, "
              "%s shifts, correction %s\n",
              a.checkpoint.c_str(), a.out.c_str(), lowbit::to_string(options.mode).c_str(), options.bits,
              options.input_bits, lowbit::to_string(options.steps).c_str(),
              lowbit::to_string(options.granularity).c_str(), static_cast<long long>(options.calibration_images),
              options.rounding == Rounding::kNearest ? "rounding" : "truncating",
              lowbit::to_string(options.correction).c_str());
  if (options.edge_bits)
    std::printf("the first and the last layer's weights have %d bits\n", options.edge_bits);
  if (shift_clip) {
    const auto violations = lowbit::shift_clip_violations(net);
    if (!violations.empty()) throw std::logic_error("lowbit: shift-clip network is not shift-and-clip: " + violations[0]);
    std::printf("shift-clip: every multiplier is a power of two (a left shift), offsets are integers, one shift and "
                "a clamp per node: no floating-point operation\n");
  } else {
    std::printf("float-scale: each u = alpha*acc + beta is held as an integer multiplier and offset with at least 24 "
                "significant bits (float32's precision) over a common shift, evaluated exactly in int64\n");
  }
  const runtime::Engine engine(net);
  TextTable table({"node", "op", "output", "weights", "step w", "step a", "n", "n*qw*qa+|b|", "sum|W|*qa",
                   "acc (IR)", "runtime kernel"});
  size_t report = 0;
  nlohmann::ordered_json layers = nlohmann::json::array();
  for (size_t i = 0; i < net.nodes.size(); ++i) {
    const auto& n = net.nodes[i];
    std::vector<std::string> row{n.name, ir::to_string(n.op), n.output_format.str()};
    if (n.weight) {
      const auto& r = conversion.layers.at(report++);
      row.insert(row.end(), {n.weight->format.str() + " x " + std::to_string(n.weight->numel()),
                             format_general(r.weight_step_min) + (per_channel_cell(r.weight_step_min, r.weight_step_max)),
                             r.activation_step_max > 0 ? format_general(r.activation_step_min) +
                                                             per_channel_cell(r.activation_step_min, r.activation_step_max)
                                                       : "logits",
                             std::to_string(r.fan_in), bits_cell(r.spec_bound), bits_cell(r.worst_case),
                             std::to_string(r.accumulator_bits) + " bits", engine.profile()[i].kernel});
      nlohmann::ordered_json l;
      l["name"] = r.name;
      l["fan_in"] = r.fan_in;
      l["weight_step"] = {r.weight_step_min, r.weight_step_max};
      l["activation_step"] = {r.activation_step_min, r.activation_step_max};
      l["weight_code_max"] = r.weight_code_max;
      l["input_code_max"] = r.input_code_max;
      l["bias_max"] = r.bias_max;
      l["spec_bound"] = r.spec_bound;
      l["spec_bound_bits"] = lowbit::signed_bits_for(r.spec_bound);
      l["worst_case"] = r.worst_case;
      l["worst_case_bits"] = lowbit::signed_bits_for(r.worst_case);
      l["accumulator_bits"] = r.accumulator_bits;
      l["significant_bits"] = r.significant_bits;
      l["bias_shift_max"] = r.bias_shift_max;
      l["scale"] = {r.scale_min, r.scale_max};
      l["kernel"] = engine.profile()[i].kernel;
      layers.push_back(l);
    } else {
      row.insert(row.end(), {"", "", "", "", "", "", "", engine.profile()[i].kernel});
    }
    table.add_row(row);
  }
  std::printf("\n%s\n", table.aligned().c_str());

  InferenceOptions inference;
  inference.batch_size = a.batch;
  inference.check = true;
  inference.quiet = a.quiet;
  inference.source_model = run.network.get();
  inference.source_transform = run.config.transform;
  const InferenceReport r = run_inference(net, test, inference);
  const double n = static_cast<double>(r.samples);
  const double float_accuracy = static_cast<double>(r.source_correct) / n;
  std::printf("float model (LibTorch):           accuracy %.2f%% on %lld test samples\n", 100.0 * float_accuracy,
              static_cast<long long>(r.samples));
  std::printf("low-bit network (integer runtime): accuracy %.2f%% (%+.2f points)\n", 100.0 * r.accuracy(),
              100.0 * (r.accuracy() - float_accuracy));
  std::printf("runtime vs the converter's simulation of the network (LibTorch): %lld prediction mismatches, %lld of %lld "
              "output codes differ\n",
              static_cast<long long>(r.prediction_mismatches), static_cast<long long>(r.code_mismatches),
              static_cast<long long>(r.samples * r.outputs));

  if (!a.json.empty()) {
    nlohmann::ordered_json j;
    j["checkpoint"] = a.checkpoint;
    j["model"] = a.out;
    j["mode"] = lowbit::to_string(options.mode);
    j["bits"] = options.bits;
    j["input_bits"] = options.input_bits;
    j["edge_bits"] = options.edge_bits ? options.edge_bits : options.bits;
    j["steps"] = lowbit::to_string(options.steps);
    j["granularity"] = lowbit::to_string(options.granularity);
    j["rounding"] = fxnn::to_string(options.rounding);
    j["calibration_images"] = options.calibration_images;
    j["correction"] = lowbit::to_string(options.correction);
    j["input_step"] = {conversion.input_step_min, conversion.input_step_max};
    j["samples"] = r.samples;
    j["float_accuracy"] = float_accuracy;
    j["accuracy"] = r.accuracy();
    j["prediction_mismatches"] = r.prediction_mismatches;
    j["code_mismatches"] = r.code_mismatches;
    j["layers"] = layers;
    write_file_atomic(a.json, j.dump(2) + "\n");
  }
  if (r.prediction_mismatches > 0 || r.code_mismatches > 0)
    throw std::runtime_error("the integer runtime disagrees with the converter's simulation");
}

} // namespace

void add_lowbit_command(CLI::App& app) {
  auto a = std::make_shared<LowbitArgs>();
  auto* cmd = app.add_subcommand("lowbit", "Float-trained network -> low-bit integer network folder (2-8 bits; "
                                           "float-scale or shift-clip), with its accuracy next to the float one");
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint.pt of a float run")->required();
  cmd->add_option("--config", a->config, "Experiment config of the checkpoint")->required();
  cmd->add_option("--mode", a->mode, "float-scale | shift-clip")->required();
  cmd->add_option("--bits", a->bits, "Bits of weight and activation codes (2..8)")->required();
  cmd->add_option("--steps", a->steps, "Step rule: mse | maxabs")->capture_default_str();
  cmd->add_option("--granularity", a->granularity, "Steps per layer or per output channel: layer | channel")
      ->capture_default_str();
  cmd->add_option("--calib", a->calib, "Calibration images (from the training set)")->capture_default_str();
  cmd->add_option("--input-bits", a->input_bits, "Bits of the normalized input codes (2..8)")->capture_default_str();
  cmd->add_option("--edge-bits", a->edge_bits, "Bits of the first and the last layer's weights (default: --bits)");
  cmd->add_option("--rounding", a->rounding, "Shifts: nearest | floor (truncation)")->capture_default_str();
  cmd->add_option("--correction", a->correction, "Fit on the calibration images: none | bias | affine (float-scale)")
      ->capture_default_str();
  cmd->add_option("--limit", a->limit, "Only the first N test samples");
  cmd->add_option("--batch", a->batch, "Samples per batch of the evaluation")->capture_default_str();
  cmd->add_option("--threads", a->threads, "Threads (0: all hardware threads)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--json", a->json, "Write the results as JSON");
  cmd->add_flag("--quiet", a->quiet, "No progress line");
  cmd->add_option("--out", a->out, "Output folder (model.json, .npy, model.h)")->required();
  cmd->add_flag("--force", a->force, "Replace a fixed-point network folder already at --out (anything else is refused)");
  cmd->callback([a] { run_lowbit(*a); });
}

} // namespace fxnn::cli
