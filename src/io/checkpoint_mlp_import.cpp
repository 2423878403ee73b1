#include "fxnn/io/checkpoint_mlp_import.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>

#include "fxnn/config/experiment_config.h"
#include "fxnn/io/network_file.h"
#include "fxnn/nn/layers.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn::io {

namespace {

namespace fs = std::filesystem;

Eigen::MatrixXd to_matrix(const torch::Tensor& t) {
  const torch::Tensor d = t.detach().to(torch::kDouble).contiguous();
  Eigen::MatrixXd m(d.size(0), d.size(1));
  const double* p = d.data_ptr<double>();
  for (int64_t i = 0; i < d.size(0); ++i)
    for (int64_t j = 0; j < d.size(1); ++j) m(i, j) = p[i * d.size(1) + j];
  return m;
}

std::vector<double> to_vector(const torch::Tensor& t, int64_t n, double fallback) {
  if (!t.defined()) return std::vector<double>(static_cast<size_t>(n), fallback);
  const torch::Tensor d = t.detach().to(torch::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

} // namespace

FloatNetwork import_checkpoint_mlp(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  const fs::path checkpoint = fs::is_directory(p) ? p / "checkpoint.pt" : p;
  const fs::path config_path = dir / "config.yaml";
  if (!fs::exists(checkpoint)) throw std::runtime_error(checkpoint.string() + ": no checkpoint");
  if (!fs::exists(config_path)) throw std::runtime_error(config_path.string() + ": no config.yaml beside the checkpoint");
  const ExperimentConfig config = ExperimentConfig::load(config_path.string());
  if (config.model.arch != "mlp")
    throw std::runtime_error(config_path.string() + ": model.arch is '" + config.model.arch + "', only mlp can be imported");
  if (fs::exists(dir / "plan.yaml"))
    spdlog::warn("{}: a fixed-point run; its activation quantization is not part of the imported float network",
                 dir.string());
  const InputShape shape = config.input_shape();
  Network network = build_network(config, std::nullopt);
  load_network_weights(checkpoint.string(), *network);
  network->eval();

  FloatNetwork net;
  net.source = checkpoint.string();
  for (const auto& named : network->body->named_children()) {
    const std::string where = checkpoint.string() + ": module " + named.key();
    const auto& module = named.value();
    if (const auto* linear = module->as<QLinearImpl>()) {
      DenseLayer layer;
      layer.name = linear->options.name();
      layer.weight = to_matrix(linear->weight);
      const std::vector<double> b = to_vector(linear->bias, layer.weight.rows(), 0.0);
      layer.bias = Eigen::Map<const Eigen::VectorXd>(b.data(), static_cast<Eigen::Index>(b.size()));
      net.layers.push_back(std::move(layer));
    } else if (const auto* bn = module->as<torch::nn::BatchNorm1dImpl>()) {
      if (net.layers.empty()) throw std::runtime_error(where + ": batch norm before any linear layer");
      DenseLayer& layer = net.layers.back();
      const int64_t n = layer.outputs();
      const std::vector<double> mean = to_vector(bn->running_mean, n, 0.0), var = to_vector(bn->running_var, n, 1.0);
      const std::vector<double> gamma = to_vector(bn->weight, n, 1.0), beta = to_vector(bn->bias, n, 0.0);
      for (int64_t i = 0; i < n; ++i) {
        const size_t ui = static_cast<size_t>(i);
        const long double scale = gamma[ui] / std::sqrt(static_cast<long double>(var[ui]) + bn->options.eps());
        for (int64_t j = 0; j < layer.inputs(); ++j) layer.weight(i, j) = static_cast<double>(layer.weight(i, j) * scale);
        layer.bias(i) = static_cast<double>((layer.bias(i) - mean[ui]) * scale + beta[ui]);
      }
    } else if (const auto* act = module->as<QActivationImpl>()) {
      if (net.layers.empty()) throw std::runtime_error(where + ": activation before any linear layer");
      net.layers.back().activation = Activation::kClippedRelu;
      net.layers.back().clip = act->options.clip();
    } else if (module->as<torch::nn::DropoutImpl>() || module->as<torch::nn::FlattenImpl>() ||
               module->as<GradientPointImpl>()) {
      continue; // identities at inference
    } else {
      throw std::runtime_error(where + " (" + module->name() + ") is not part of an MLP");
    }
  }
  if (net.layers.empty()) throw std::runtime_error(checkpoint.string() + ": no linear layer");
  // The loader feeds (p / 255 - mean_c) / std_c: fold it so that the network takes p / 255.
  const auto& t = config.transform;
  if (!t.mean.empty() || !t.std.empty()) {
    const int64_t channels = shape.channels, plane = shape.height * shape.width;
    std::vector<long double> mean, divisor;
    for (int64_t j = 0; j < net.layers.front().inputs(); ++j) {
      const size_t c = static_cast<size_t>(std::min<int64_t>(j / plane, channels - 1));
      mean.push_back(t.mean.empty() ? 0.0 : t.mean[t.mean.size() == 1 ? 0 : c]);
      divisor.push_back(t.std.empty() ? 1.0 : t.std[t.std.size() == 1 ? 0 : c]);
    }
    fold_input_normalization(net.layers.front(), mean, divisor);
  }
  net.validate();
  return net;
}

FloatNetwork load_float_network(const std::string& path) {
  if (is_network_file(path)) return read_network_file(path);
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such model file or run directory");
  if (fs::is_directory(path) || fs::path(path).extension() == ".pt") return import_checkpoint_mlp(path);
  return read_network_file(path); // names the expected formats
}

} // namespace fxnn::io
