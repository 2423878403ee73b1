// A convolutional network written here (not one of fxnn's model zoo), trained in fixed point with a
// precision plan, then exported to a fixed-point network folder that the integer runtime runs.
//
//   train_custom_model PLAN.yaml OUT_DIR [TRAIN_SAMPLES] [EPOCHS]
//
// Data: Fashion-MNIST from the Debian package dataset-fashion-mnist. Writes OUT_DIR/network (the
// fixed-point network folder) and OUT_DIR/test_image.pgm (the first test image, for a classifier to try).
#include <fxnn/data/batch_loader.h>
#include <fxnn/data/dataset.h>
#include <fxnn/deploy/export_network.h>
#include <fxnn/ir/network_files.h>
#include <fxnn/nn/layers.h>
#include <fxnn/nn/network.h>
#include <fxnn/nn/precision_plan.h>
#include <fxnn/optim/fixed_point_sgd.h>
#include <fxnn/version.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

// Layers are fxnn's quantized layers: each owns its quantization points (W, GW, acc for weights;
// A and GA for activations), named after the layer, which is how a plan addresses them.
fxnn::Network make_model() {
  using namespace fxnn;
  torch::nn::Sequential body(QConv2d(QConv2dOptions("conv1", 1, 8, 3).padding(1).bias(true)),
                             QActivation(QActivationOptions("conv1")), torch::nn::MaxPool2d(2),
                             QConv2d(QConv2dOptions("conv2", 8, 16, 3).padding(1).bias(true)),
                             QActivation(QActivationOptions("conv2")), torch::nn::MaxPool2d(2), torch::nn::Flatten(),
                             QLinear(QLinearOptions("fc", 16 * 7 * 7, 10)), GradientPoint("fc"));
  return Network(body);
}

double accuracy(fxnn::Network& net, const fxnn::data::ImageDataset& test, const fxnn::data::LoaderOptions& o) {
  torch::NoGradGuard no_grad;
  net->eval();
  fxnn::data::LoaderOptions eval = o;
  eval.shuffle = eval.augment = false;
  fxnn::data::BatchLoader loader(test, eval);
  loader.start_epoch(1);
  int64_t correct = 0;
  while (auto b = loader.next()) correct += net->forward(b->inputs).argmax(1).eq(b->labels).sum().item<int64_t>();
  net->train();
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

void write_pgm(const torch::Tensor& image, const std::string& path) { // image: uint8 [1, H, W]
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << image.size(2) << " " << image.size(1) << "\n255\n";
  const auto pixels = image.contiguous();
  out.write(reinterpret_cast<const char*>(pixels.data_ptr<uint8_t>()), pixels.numel());
}

} // namespace

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: train_custom_model PLAN.yaml OUT_DIR [TRAIN_SAMPLES] [EPOCHS]\n";
    return 2;
  }
  const std::string plan_file = argv[1], out = argv[2];
  const int64_t train_samples = argc > 3 ? std::stoll(argv[3]) : 0; // 0: all 60000
  const int64_t epochs = argc > 4 ? std::stoll(argv[4]) : 1;
  torch::manual_seed(1);

  fxnn::data::DataOptions data;
  data.train_limit = train_samples;
  const auto splits = fxnn::data::load_dataset(data);
  fxnn::data::LoaderOptions loading;
  loading.batch_size = 100;
  loading.seed = 1;
  loading.transform.mean = {0.2860};
  loading.transform.std = {0.3530};

  fxnn::Network net = make_model();
  const auto plan = fxnn::PrecisionPlan::load(plan_file);
  plan.apply(*net); // every point gets its format; a plan entry that names no layer is an error
  fxnn::FixedPointSGD sgd(net->weight_quantizations(), net->float_parameters(), fxnn::FixedPointSGDOptions(0.05));
  sgd.initialize_accumulators(); // W_acc from the initial weights, W = Q_W(W_acc)

  fxnn::data::BatchLoader loader(splits.train, loading);
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto b = loader.next()) {
      sgd.zero_grad();
      torch::nn::functional::cross_entropy(net->forward(b->inputs), b->labels).backward();
      sgd.step(); // G = Q_GW(dL/dW), W_acc = Q_acc(W_acc - lr G), W = Q_W(W_acc)
    }
    std::printf("epoch %lld: test accuracy %.2f%% (fxnn %s)\n", static_cast<long long>(epoch),
                100.0 * accuracy(net, splits.test, loading), fxnn::kVersion);
  }

  // The integer network: weights as codes, biases folded into the requantization (needs the input
  // normalization and a fixed format for every hidden activation).
  net->eval();
  fxnn::ExperimentConfig config;
  config.name = "custom_cnn";
  config.transform = loading.transform;
  const fxnn::ir::Network integer = fxnn::export_network(*net, config, fxnn::InputShape{1, 28, 28, 10});
  std::filesystem::create_directories(out);
  fxnn::ir::save_network(integer, out + "/network", fxnn::ExistingOutput::kReplace);
  write_pgm(splits.test.images[0], out + "/test_image.pgm");
  std::printf("wrote %s/network (%zu nodes) and %s/test_image.pgm (label %lld)\n", out.c_str(), integer.nodes.size(),
              out.c_str(), static_cast<long long>(splits.test.labels[0].item<int64_t>()));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "train_custom_model: " << e.what() << "\n";
  return 1;
}
