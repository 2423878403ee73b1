// Export of trained fixed-point networks: the LibTorch simulation, the integer runtime (reference and
// optimized kernels) and the numpy program compute the same integers; the trained LibTorch model
// (batch norm in float) predicts almost always as they do; damaged folders are clear errors.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "../support/fixtures.h"
#include "../support/run_command.h"
#include "../support/temp_dir.h"
#include "fxnn/data/writers.h"
#include "fxnn/deploy/export_network.h"
#include "fxnn/deploy/inference.h"
#include "fxnn/deploy/torch_simulation.h"
#include "fxnn/io/npy.h"
#include "fxnn/ir/network_files.h"
#include "fxnn/train/trained_run.h"
#include "fxnn/train/trainer.h"

namespace fxnn {
namespace {

using testing_support::run_command;
using testing_support::TempDir;
namespace fs = std::filesystem;

const char* kPlan =
    "defaults:\n  W: s8.7\n  A: u8.7\n  GW: s12.auto\n  GA: {format: s12.auto, rounding: stochastic}\n  acc: s20.19\n";

/// Trains `overrides` for one epoch in fixed point into dir and returns the run.
TrainedRun train(const std::string& dir, const std::vector<std::string>& overrides) {
  TrainerOptions o;
  o.config = ExperimentConfig::parse("name: tiny\nseed: 3\n", "tiny.yaml", overrides);
  o.plan = PrecisionPlan::parse(kPlan, "plan.yaml");
  o.out_dir = dir;
  o.quiet = true;
  Trainer(o).run();
  return load_trained_run(dir);
}

/// Every consumer of the exported network agrees on `test`.
void expect_consumers_agree(const ir::Network& net, TrainedRun& run, const data::ImageDataset& test) {
  const auto input = image_input_codes(net, test.images);
  const auto simulated = simulate_network(net, image_codes(test.images)).reshape({test.size(), -1});
  for (bool reference : {true, false}) {
    runtime::Engine engine(net, runtime::EngineOptions().with_reference(reference));
    const auto codes = engine.run(input).to_int64();
    const auto mine = torch::tensor(codes, torch::kLong).reshape({test.size(), -1});
    EXPECT_EQ(simulated.ne(mine).sum().item<int64_t>(), 0) << (reference ? "reference" : "optimized");
  }
  InferenceOptions options;
  options.quiet = true;
  options.check = true;
  options.source_model = eval_forward(*run.network);
  options.source_transform = run.config.transform;
  const auto r = run_inference(net, test, options);
  EXPECT_EQ(r.prediction_mismatches, 0);
  EXPECT_EQ(r.code_mismatches, 0);
  // Folding batch norm into 16-bit multipliers moves a few values across a rounding boundary, so
  // the float-BN model may disagree on a sample here and there, but not more.
  EXPECT_GE(r.source_agreement, r.samples * 95 / 100) << r.source_agreement << " of " << r.samples;
}

TEST(Export, FashionMnistCnnAgreesEverywhere) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  TrainedRun run = train(tmp / "run", {"data.train_limit=1000", "data.test_limit=300", "model.arch=cnn",
                                       "model.width=0.25", "train.batch_size=100", "train.epochs=1"});
  const ir::Network net = export_network(*run.network, run.config, run.config.input_shape());
  ir::save_network(net, tmp / "model");
  const ir::Network back = ir::load_network(tmp / "model");
  const auto test = data::load_dataset(run.config.data).test;
  expect_consumers_agree(back, run, test);
}

TEST(Export, ResidualNetworkAgreesEverywhere) {
  TempDir tmp;
  data::write_sample_dataset("cifar10", tmp / "data", 200, 64, 4);
  TrainedRun run = train(tmp / "run", {"data.dataset=cifar10", "data.path=" + (tmp / "data"), "model.arch=resnet20",
                                       "model.width=0.0625", "train.batch_size=50", "train.epochs=1"});
  const ir::Network net = export_network(*run.network, run.config, run.config.input_shape());
  int adds = 0, avgpools = 0;
  for (const auto& n : net.nodes) adds += n.op == ir::OpKind::kAdd, avgpools += n.op == ir::OpKind::kAvgPool;
  EXPECT_EQ(adds, 9);
  EXPECT_EQ(avgpools, 1);
  const auto test = data::load_dataset(run.config.data).test;
  expect_consumers_agree(net, run, test);
}

// A scaled grid (eq. (9) of docs/number-system.md) has no fixed-point form: export names the layer.
TEST(Export, RefusesScaledGrids) {
  const auto config = ExperimentConfig::parse("name: tiny\nseed: 3\n", "tiny.yaml", {"model.arch=mlp"});
  for (const char* entry : {"W: {format: s2.0, scale: 0.3}", "A: {format: u2.0, scale: 0.5}"}) {
    const auto plan = PrecisionPlan::parse(std::string(kPlan) + "layers:\n  fc1:\n    " + entry + "\n", "plan.yaml");
    Network net = build_network(config, plan);
    try {
      export_network(*net, config, config.input_shape());
      ADD_FAILURE() << "exported " << entry;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("export: layer fc1"), std::string::npos) << e.what();
    }
  }
}

TEST(Export, CommandLineAndNumpyProgram) {
  if (!testing_support::have_fashion_mnist()) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TempDir tmp;
  const std::string& fxnn = testing_support::kFxnnBinary;
  const std::string config = testing_support::kSourceDir + "/configs/fashion_mnist_mlp.yaml";
  std::ofstream(tmp / "plan.yaml") << kPlan;
  auto r = run_command(fxnn + " train --config " + config + " --precision " + (tmp / "plan.yaml") + " --out " +
                           (tmp / "run") + " --quiet --set train.epochs=1 --set data.train_limit=1000" +
                           " --set data.test_limit=200 --set model.hidden=[64]",
                       tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(fxnn + " export --run " + (tmp / "run") + " --out " + (tmp / "model"), tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_command(fxnn + " infer --model " + (tmp / "model") + " --config " + config + " --check --quiet --limit 500" +
                      " --save-inputs " + (tmp / "x.npy") + " --save-labels " + (tmp / "y.npy") + " --save-output " +
                      (tmp / "out.npy"),
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 prediction mismatches, 0 of 5000 output codes differ"), std::string::npos) << r.out << r.err;

  r = run_command("/usr/bin/python3 " + testing_support::kSourceDir + "/scripts/fxnn_infer.py --model " +
                      (tmp / "model") + " --input " + (tmp / "x.npy") + " --labels " + (tmp / "y.npy") + " --output " +
                      (tmp / "np.npy"),
                  tmp.str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(io::load_npy(tmp / "np.npy").data, io::load_npy(tmp / "out.npy").data);

  // A damaged folder: one clear line naming the file, a non-zero exit.
  std::ofstream(tmp / "model/fc1.weight.npy") << "garbage";
  r = run_command(fxnn + " infer --model " + (tmp / "model") + " --config " + config + " --quiet", tmp.str());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("fc1.weight.npy"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(testing_support::count_lines(r.err), 1) << r.out << r.err;
}

} // namespace
} // namespace fxnn
