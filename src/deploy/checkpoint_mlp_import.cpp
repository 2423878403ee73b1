#include "fxnn/deploy/checkpoint_mlp_import.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>

#include "fxnn/config/experiment_config.h"
#include "fxnn/deploy/batch_norm_fold.h"
#include "fxnn/floatnet/network_file.h"
#include "fxnn/nn/module_walk.h"
#include "fxnn/train/checkpoint.h"
#include "fxnn/train/trainer.h"

namespace fxnn {

namespace {

namespace fs = std::filesystem;
using floatnet::DenseLayer;
using floatnet::FloatNetwork;

Eigen::MatrixXd to_matrix(const torch::Tensor& t) {
  const torch::Tensor d = t.detach().to(torch::kDouble).contiguous();
  Eigen::MatrixXd m(d.size(0), d.size(1));
  const double* p = d.data_ptr<double>();
  for (int64_t i = 0; i < d.size(0); ++i)
    for (int64_t j = 0; j < d.size(1); ++j) m(i, j) = p[i * d.size(1) + j];
  return m;
}

Eigen::VectorXd to_vector(const torch::Tensor& t) {
  const torch::Tensor d = t.detach().to(torch::kDouble).contiguous();
  return Eigen::Map<const Eigen::VectorXd>(d.data_ptr<double>(), d.numel());
}

/// The dense layers of an MLP's body: linear (+ batch norm right after it, folded) (+ clipped ReLU).
class MlpReader : public ModuleVisitor {
 public:
  explicit MlpReader(const std::string& checkpoint) : checkpoint_(checkpoint) {}

  void weighted_layer(const WeightedLayer& layer) override {
    if (!layer.linear) return unsupported(layer.where);
    if (layer.batch_norm && layer.batch_norm->two_d) return unsupported(layer.batch_norm->where);
    const FoldedLayer folded = fold_batch_norm(layer);
    DenseLayer dense;
    dense.name = layer.name();
    dense.weight = to_matrix(folded.weight);
    dense.bias = to_vector(folded.bias);
    net.layers.push_back(std::move(dense));
    if (layer.activation) activation(*layer.activation, layer.where);
  }

  /// The clipped ReLU after a layer (or after a dropout that follows it).
  void activation(const QActivationImpl& act, const ModuleRef& where) override {
    if (net.layers.empty())
      throw std::runtime_error(checkpoint_ + ": module " + where.key + ": activation before any linear layer");
    DenseLayer& last = net.layers.back();
    last.activation = floatnet::Activation::kClippedRelu;
    last.clip = act.options.clip();
  }

  // Identities at inference.
  void dropout(const ModuleRef&) override {}
  void flatten(const ModuleRef&) override {}
  void gradient_point(const GradientPointImpl&, const ModuleRef&) override {}

  void unsupported(const ModuleRef& where) override {
    throw std::runtime_error(checkpoint_ + ": module " + where.key + " (" + where.module->name() +
                             ") is not part of an MLP");
  }

  FloatNetwork net;

 private:
  std::string checkpoint_;
};

} // namespace

FloatNetwork import_checkpoint_mlp(const std::string& path) {
  const fs::path p(path);
  const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
  const fs::path checkpoint = fs::is_directory(p) ? p / "checkpoint.pt" : p;
  const fs::path config_path = dir / "config.yaml";
  if (!fs::exists(checkpoint)) throw std::runtime_error(checkpoint.string() + ": no checkpoint");
  if (!fs::exists(config_path))
    throw std::runtime_error(config_path.string() + ": no config.yaml beside the checkpoint");
  const ExperimentConfig config = ExperimentConfig::load(config_path.string());
  if (config.model.arch != "mlp")
    throw std::runtime_error(config_path.string() + ": model.arch is '" + config.model.arch +
                             "', only mlp can be imported");
  if (fs::exists(dir / "plan.yaml"))
    spdlog::warn("{}: a fixed-point run; its activation quantization is not part of the imported float network",
                 dir.string());
  const InputShape shape = config.input_shape();
  Network network = build_network(config, std::nullopt);
  load_network_weights(checkpoint.string(), *network);
  network->eval();

  MlpReader reader(checkpoint.string());
  walk_modules(*network, reader);
  FloatNetwork net = std::move(reader.net);
  net.source = checkpoint.string();
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
    floatnet::fold_input_normalization(net.layers.front(), mean, divisor);
  }
  net.validate();
  return net;
}

FloatNetwork load_float_network(const std::string& path) {
  if (floatnet::is_network_file(path)) return floatnet::read_network_file(path);
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such model file or run directory");
  if (fs::is_directory(path) || fs::path(path).extension() == ".pt") return import_checkpoint_mlp(path);
  return floatnet::read_network_file(path); // names the expected formats
}

} // namespace fxnn
