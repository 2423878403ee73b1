#pragma once
// A fixed-point network evaluated on a labelled data set by the integer runtime, optionally checked
// against its LibTorch simulation and compared with the trained LibTorch model it was exported from.

#include <functional>
#include <optional>
#include <vector>

#include "fxnn/data/batch_loader.h"
#include "fxnn/data/dataset.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/nn/network.h"
#include "fxnn/runtime/engine.h"

namespace fxnn {

struct InferenceOptions {
  int64_t batch_size = 256;
  runtime::EngineOptions engine;
  /// Also evaluate the LibTorch simulation (deploy/torch_simulation.h) and count disagreements.
  bool check = false;
  /// The float model the network was exported or converted from (a LibTorch network in eval mode,
  /// or imported layers): logits of a batch of normalized inputs. Its accuracy and how often its
  /// predictions agree with the integer runtime's are reported.
  std::function<torch::Tensor(const torch::Tensor&)> source_model;
  data::TransformOptions source_transform; // the source model's input normalization (its config's)
  bool quiet = false;                      // no progress line
};

struct InferenceReport {
  int64_t samples = 0;
  int64_t correct = 0;               // integer runtime predictions equal to the labels
  std::vector<int64_t> predictions;  // integer runtime, per sample
  std::vector<int64_t> output_codes; // integer runtime, [samples, outputs] row-major
  int64_t outputs = 0;
  double runtime_seconds = 0;
  // check:
  int64_t prediction_mismatches = -1; // runtime vs simulation (-1: not checked)
  int64_t code_mismatches = -1;       // output codes that differ
  // source_model:
  int64_t source_correct = -1;
  int64_t source_agreement = -1; // samples where the source model predicts as the runtime does

  double accuracy() const { return samples ? static_cast<double>(correct) / static_cast<double>(samples) : 0.0; }
};

/// `network`, switched to eval mode, as InferenceOptions::source_model.
std::function<torch::Tensor(const torch::Tensor&)> eval_forward(NetworkImpl& network);

/// The input codes of raw images: u8.0 pixels [N, C, H, W]. Throws when the network does not take them.
runtime::Codes image_input_codes(const ir::Network& network, const torch::Tensor& images);

InferenceReport run_inference(const ir::Network& network, const data::ImageDataset& dataset,
                              const InferenceOptions& options);

} // namespace fxnn
