#include "fxnn/train/checkpoint.h"

#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

namespace {

int64_t read_network(torch::serialize::InputArchive& archive, NetworkImpl& network) {
  torch::Tensor epoch;
  archive.read("epoch", epoch);
  torch::serialize::InputArchive model;
  archive.read("model", model);
  network.load(model);
  return epoch.item<int64_t>();
}

template <typename Body>
auto with_checkpoint_errors(const std::string& path, Body body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    throw std::runtime_error(path + ": not a checkpoint of this network (" + e.what_without_backtrace() + ")");
  }
}

} // namespace

void save_checkpoint(const std::string& path, int64_t epoch, const NetworkImpl& network, const FixedPointSGD& optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("epoch", torch::tensor(epoch));
  torch::serialize::OutputArchive model;
  network.save(model);
  archive.write("model", model);
  torch::serialize::OutputArchive optim;
  optimizer.save(optim);
  archive.write("optimizer", optim);
  write_file_atomic(path, [&](std::ostream& out) { archive.save_to(out); });
}

int64_t load_checkpoint(const std::string& path, NetworkImpl& network, FixedPointSGD& optimizer) {
  return with_checkpoint_errors(path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    const int64_t epoch = read_network(archive, network);
    torch::serialize::InputArchive optim;
    archive.read("optimizer", optim);
    optimizer.load(optim);
    return epoch;
  });
}

int64_t load_network_weights(const std::string& path, NetworkImpl& network) {
  const int64_t epoch = with_checkpoint_errors(path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    return read_network(archive, network);
  });
  const std::string bad = non_finite_tensors(network);
  if (!bad.empty())
    throw std::runtime_error(path + ": the weights of epoch " + std::to_string(epoch) + " are not finite (" + bad +
                             "): the run diverged or the file is damaged");
  return epoch;
}

std::string non_finite_tensors(const NetworkImpl& network) {
  std::string found;
  const auto check = [&](const std::string& name, const torch::Tensor& t) {
    if (!t.defined() || !t.is_floating_point()) return;
    const int64_t bad = torch::logical_not(torch::isfinite(t)).sum().item<int64_t>();
    if (bad > 0)
      found += (found.empty() ? "" : ", ") + name + ": " + std::to_string(bad) + " of " + std::to_string(t.numel()) +
               " values NaN or infinite";
  };
  for (const auto& p : network.named_parameters()) check(p.key(), p.value());
  for (const auto& b : network.named_buffers()) check(b.key(), b.value());
  return found;
}

} // namespace fxnn
