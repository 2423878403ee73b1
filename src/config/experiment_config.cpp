#include "fxnn/config/experiment_config.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"
#include "fxnn/io/yaml_map.h"

namespace fxnn {

using io::parse_yaml;
using io::YamlMap;

namespace {

/// Sets key.path=value in the document, creating intermediate maps.
void apply_override(YAML::Node& root, const std::string& assignment, const std::string& source) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw std::runtime_error("--set '" + assignment + "': expected key.path=value");
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("--set '" + assignment + "': cannot parse the value (" + e.msg + ")");
  }
  std::vector<std::string> parts;
  std::stringstream stream(key);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) throw std::runtime_error("--set '" + assignment + "': empty key component");
    parts.push_back(part);
  }
  // operator[] throws YAML::BadSubscript on a scalar and turns a sequence into a map: only a map of
  // keys takes an override.
  if (!root.IsMap()) throw std::runtime_error(source + ": --set " + key + ": the document is not a map of keys");
  // yaml-cpp nodes are handles: walking with operator[] on copies edits the shared document.
  std::vector<YAML::Node> chain{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = chain.back()[parts[i]];
    if (next.IsDefined() && !next.IsNull() && !next.IsMap())
      throw std::runtime_error(source + ": --set " + key + ": '" + parts[i] + "' is not a section");
    chain.push_back(next);
  }
  chain.back()[parts.back()] = value;
}

template <typename T>
void check(bool ok, const YamlMap& map, const std::string& key, const T& value, const std::string& rule) {
  if (!ok) {
    std::ostringstream text;
    text << "value " << value << " " << rule;
    map.fail(key, text.str());
  }
}

void read_data(const YamlMap& m, ExperimentConfig& c) {
  auto& d = c.data;
  d.dataset = m.get<std::string>("dataset", d.dataset);
  d.path = m.get<std::string>("path", d.path);
  d.format = m.get<std::string>("format", d.format);
  d.cifar100_labels = m.get<std::string>("cifar100_labels", d.cifar100_labels);
  d.train_limit = m.get<int64_t>("train_limit", d.train_limit);
  d.test_limit = m.get<int64_t>("test_limit", d.test_limit);
  d.subset_seed = m.get<uint64_t>("subset_seed", c.seed);
  check(d.train_limit >= 0, m, "train_limit", d.train_limit, "must be >= 0");
  check(d.test_limit >= 0, m, "test_limit", d.test_limit, "must be >= 0");
  check(d.cifar100_labels == "fine" || d.cifar100_labels == "coarse", m, "cifar100_labels", d.cifar100_labels,
        "must be fine or coarse");
  m.reject_unknown_keys();
}

void read_transform(const YamlMap& m, ExperimentConfig& c) {
  auto& t = c.transform;
  t.mean = m.get<std::vector<double>>("mean", t.mean);
  t.std = m.get<std::vector<double>>("std", t.std);
  t.crop_padding = m.get<int64_t>("crop_padding", t.crop_padding);
  t.horizontal_flip = m.get<bool>("horizontal_flip", t.horizontal_flip);
  check(t.mean.size() == t.std.size(), m, "std", t.std.size(), "entries: must have as many entries as mean");
  for (double s : t.std) check(s > 0, m, "std", s, "must be positive");
  check(t.crop_padding >= 0, m, "crop_padding", t.crop_padding, "must be >= 0");
  m.reject_unknown_keys();
}

void read_model(const YamlMap& m, ExperimentConfig& c) {
  auto& o = c.model;
  o.arch = m.get<std::string>("arch", o.arch);
  o.width = m.get<double>("width", o.width);
  o.hidden = m.get<std::vector<int64_t>>("hidden", o.hidden);
  o.dropout = m.get<double>("dropout", o.dropout);
  o.batch_norm = m.get<bool>("batch_norm", o.batch_norm);
  o.activation_clip = m.get<double>("activation_clip", o.activation_clip);
  const std::vector<std::string> archs = {"mlp", "cnn", "convnet", "resnet20"};
  check(std::find(archs.begin(), archs.end(), o.arch) != archs.end(), m, "arch", o.arch,
        "is not one of mlp, cnn, convnet, resnet20");
  check(o.width > 0, m, "width", o.width, "must be positive");
  check(o.dropout >= 0 && o.dropout < 1, m, "dropout", o.dropout, "must be in [0, 1)");
  check(o.activation_clip > 0, m, "activation_clip", o.activation_clip, "must be positive");
  for (int64_t h : o.hidden) check(h > 0, m, "hidden", h, "must be positive");
  m.reject_unknown_keys();
}

void read_train(const YamlMap& m, ExperimentConfig& c) {
  auto& t = c.train;
  t.epochs = m.get<int64_t>("epochs", t.epochs);
  t.batch_size = m.get<int64_t>("batch_size", t.batch_size);
  t.eval_batch_size = m.get<int64_t>("eval_batch_size", t.eval_batch_size);
  t.threads = m.get<int64_t>("threads", t.threads);
  t.prefetch = m.get<bool>("prefetch", t.prefetch);
  t.micro_batches = m.get<int64_t>("micro_batches", t.micro_batches);
  check(t.epochs >= 1, m, "epochs", t.epochs, "must be >= 1");
  check(t.batch_size >= 1, m, "batch_size", t.batch_size, "must be >= 1");
  check(t.micro_batches >= 1, m, "micro_batches", t.micro_batches, "must be >= 1");
  check(t.micro_batches <= t.batch_size, m, "micro_batches", t.micro_batches, "must not exceed train.batch_size");
  check(t.eval_batch_size >= 1, m, "eval_batch_size", t.eval_batch_size, "must be >= 1");
  check(t.threads >= 0, m, "threads", t.threads, "must be >= 0 (0 = all hardware threads)");
  m.reject_unknown_keys();
}

constexpr double kMaxFloat32 = std::numeric_limits<float>::max();

void read_optim(const YamlMap& m, ExperimentConfig& c) {
  auto& o = c.optim;
  o.lr = m.get<double>("lr", o.lr);
  o.lr_milestones = m.get<std::vector<int64_t>>("lr_milestones", o.lr_milestones);
  o.lr_gamma = m.get<double>("lr_gamma", o.lr_gamma);
  o.momentum = m.get<double>("momentum", o.momentum);
  o.weight_clip = m.get<double>("weight_clip", o.weight_clip);
  o.weight_decay = m.get<double>("weight_decay", o.weight_decay);
  check(o.lr > 0, m, "lr", o.lr, "must be positive");
  // The weights are float32: a step beyond float32's range cannot be applied to them.
  check(o.lr <= kMaxFloat32, m, "lr", o.lr, "must be at most 3.4e38 (the float32 range)");
  check(o.lr_gamma > 0, m, "lr_gamma", o.lr_gamma, "must be positive");
  check(o.momentum >= 0 && o.momentum < 1, m, "momentum", o.momentum, "must be in [0, 1)");
  check(o.weight_clip >= 0, m, "weight_clip", o.weight_clip, "must be >= 0 (0 = no clipping)");
  check(o.weight_decay >= 0, m, "weight_decay", o.weight_decay, "must be >= 0");
  check(o.weight_decay <= kMaxFloat32, m, "weight_decay", o.weight_decay, "must be at most 3.4e38 (the float32 range)");
  for (int64_t e : o.lr_milestones) check(e >= 1, m, "lr_milestones", e, "must be >= 1");
  m.reject_unknown_keys();
}

void read_precision(const YamlMap& m, ExperimentConfig& c) {
  auto& p = c.precision;
  p.target_pm = m.get<double>("target_pm", p.target_pm);
  p.noise_samples = m.get<int64_t>("noise_samples", p.noise_samples);
  p.injection_draws = m.get<int64_t>("injection_draws", p.injection_draws);
  p.gradient_rounding = m.get<std::string>("gradient_rounding", p.gradient_rounding);
  check(p.target_pm > 0 && p.target_pm < 1, m, "target_pm", p.target_pm, "must be in (0, 1)");
  check(p.noise_samples >= 1, m, "noise_samples", p.noise_samples, "must be >= 1");
  check(p.injection_draws >= 0 && p.injection_draws <= kMaxInjectionDraws, m, "injection_draws", p.injection_draws,
        "must be in [0, " + std::to_string(kMaxInjectionDraws) + "] (0 = no check)");
  check(p.gradient_rounding == "nearest" || p.gradient_rounding == "stochastic", m, "gradient_rounding",
        p.gradient_rounding, "must be nearest or stochastic");
  m.reject_unknown_keys();
}

} // namespace

InputShape ExperimentConfig::input_shape() const {
  const data::SampleShape s = data::sample_shape(data);
  return {s.channels, s.height, s.width, s.num_classes};
}

double OptimOptions::lr_at(int64_t epoch) const {
  double lr_now = lr;
  for (int64_t milestone : lr_milestones)
    if (epoch >= milestone) lr_now *= lr_gamma;
  return lr_now;
}

double OptimOptions::lr_min(int64_t epochs) const {
  double smallest = lr;
  for (int64_t epoch = 1; epoch <= epochs; ++epoch) smallest = std::min(smallest, lr_at(epoch));
  return smallest;
}

ExperimentConfig ExperimentConfig::parse(const std::string& yaml_text, const std::string& source,
                                         const std::vector<std::string>& overrides) {
  YAML::Node document = parse_yaml(yaml_text, source);
  if (!document.IsDefined() || document.IsNull()) document = YAML::Node(YAML::NodeType::Map);
  for (const auto& assignment : overrides) apply_override(document, assignment, source);
  const YamlMap root(document, source);
  ExperimentConfig c;
  c.name = root.get<std::string>("name", c.name);
  c.seed = root.get<uint64_t>("seed", c.seed);
  read_data(root.map("data"), c);
  read_transform(root.map("transform"), c);
  read_model(root.map("model"), c);
  read_train(root.map("train"), c);
  read_optim(root.map("optim"), c);
  read_precision(root.map("precision"), c);
  root.reject_unknown_keys();
  return c;
}

ExperimentConfig ExperimentConfig::load(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string text = read_file(path, kMaxTextInputBytes, "a config");
  // A file with no settings is a damaged or wrong file (a run's config.yaml is never empty), not a
  // request for every default.
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) throw std::runtime_error(path + ": empty (no settings)");
  return parse(text, path, overrides);
}

std::string ExperimentConfig::to_yaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "seed" << YAML::Value << seed;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "dataset" << YAML::Value << data.dataset;
  out << YAML::Key << "path" << YAML::Value << data.path;
  out << YAML::Key << "format" << YAML::Value << data.format;
  out << YAML::Key << "cifar100_labels" << YAML::Value << data.cifar100_labels;
  out << YAML::Key << "train_limit" << YAML::Value << data.train_limit;
  out << YAML::Key << "test_limit" << YAML::Value << data.test_limit;
  out << YAML::Key << "subset_seed" << YAML::Value << data.subset_seed;
  out << YAML::EndMap;
  out << YAML::Key << "transform" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "mean" << YAML::Value << YAML::Flow << transform.mean;
  out << YAML::Key << "std" << YAML::Value << YAML::Flow << transform.std;
  out << YAML::Key << "crop_padding" << YAML::Value << transform.crop_padding;
  out << YAML::Key << "horizontal_flip" << YAML::Value << transform.horizontal_flip;
  out << YAML::EndMap;
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "arch" << YAML::Value << model.arch;
  out << YAML::Key << "width" << YAML::Value << model.width;
  out << YAML::Key << "hidden" << YAML::Value << YAML::Flow << model.hidden;
  out << YAML::Key << "dropout" << YAML::Value << model.dropout;
  out << YAML::Key << "batch_norm" << YAML::Value << model.batch_norm;
  out << YAML::Key << "activation_clip" << YAML::Value << model.activation_clip;
  out << YAML::EndMap;
  out << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "epochs" << YAML::Value << train.epochs;
  out << YAML::Key << "batch_size" << YAML::Value << train.batch_size;
  out << YAML::Key << "eval_batch_size" << YAML::Value << train.eval_batch_size;
  out << YAML::Key << "threads" << YAML::Value << train.threads;
  out << YAML::Key << "prefetch" << YAML::Value << train.prefetch;
  out << YAML::Key << "micro_batches" << YAML::Value << train.micro_batches;
  out << YAML::EndMap;
  out << YAML::Key << "optim" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "lr" << YAML::Value << optim.lr;
  out << YAML::Key << "lr_milestones" << YAML::Value << YAML::Flow << optim.lr_milestones;
  out << YAML::Key << "lr_gamma" << YAML::Value << optim.lr_gamma;
  out << YAML::Key << "momentum" << YAML::Value << optim.momentum;
  out << YAML::Key << "weight_clip" << YAML::Value << optim.weight_clip;
  out << YAML::Key << "weight_decay" << YAML::Value << optim.weight_decay;
  out << YAML::EndMap;
  out << YAML::Key << "precision" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "target_pm" << YAML::Value << precision.target_pm;
  out << YAML::Key << "noise_samples" << YAML::Value << precision.noise_samples;
  out << YAML::Key << "injection_draws" << YAML::Value << precision.injection_draws;
  out << YAML::Key << "gradient_rounding" << YAML::Value << precision.gradient_rounding;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

} // namespace fxnn
