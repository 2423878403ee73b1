#include "fxnn/train/checkpoint.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>

#include "fxnn/io/atomic_file.h"

namespace fxnn {

namespace {

constexpr const char* kIdentityKey = "identity"; // JSON text: config, plan, checksum

/// "[2, 3]" for messages.
std::string shape_text(c10::IntArrayRef sizes) {
  std::string text = "[";
  for (size_t d = 0; d < sizes.size(); ++d) text += (d ? ", " : "") + std::to_string(sizes[d]);
  return text + "]";
}

/// CRC-32 of the epoch and of the bytes of every tensor, in a fixed order (names, then data).
uint32_t state_checksum(int64_t epoch, const NetworkImpl& network, const FixedPointSGD& optimizer) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto add_bytes = [&](const void* data, size_t size) {
    crc = crc32(crc, static_cast<const Bytef*>(data), static_cast<uInt>(size));
  };
  const auto add_tensor = [&](const std::string& name, const torch::Tensor& t) {
    add_bytes(name.data(), name.size());
    if (!t.defined()) return;
    const auto c = t.detach().cpu().contiguous();
    add_bytes(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  };
  add_bytes(&epoch, sizeof epoch);
  for (const auto& p : network.named_parameters()) add_tensor(p.key(), p.value());
  for (const auto& b : network.named_buffers()) add_tensor(b.key(), b.value());
  int index = 0;
  for (const auto& t : optimizer.state_tensors()) add_tensor("optimizer." + std::to_string(index++), t);
  return static_cast<uint32_t>(crc);
}

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "%08x", value);
  return text;
}

/// The shapes of the network's tensors before a load, to compare with what the load put there: LibTorch's
/// Module::load replaces a tensor of another shape silently.
std::map<std::string, std::vector<int64_t>> tensor_shapes(const NetworkImpl& network) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : network.named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  for (const auto& b : network.named_buffers()) shapes[b.key()] = b.value().sizes().vec();
  return shapes;
}

void check_shapes(const std::string& path, const std::map<std::string, std::vector<int64_t>>& expected,
                  const NetworkImpl& network) {
  const auto check = [&](const std::string& name, const torch::Tensor& t) {
    const auto found = expected.find(name);
    if (found != expected.end() && t.sizes().vec() != found->second)
      throw std::runtime_error(path + ": not a checkpoint of this run's network: " + name + " has shape " +
                               shape_text(t.sizes()) + ", the config's network " + shape_text(found->second) +
                               " (was it copied from another run?)");
  };
  for (const auto& p : network.named_parameters()) check(p.key(), p.value());
  for (const auto& b : network.named_buffers()) check(b.key(), b.value());
}

int64_t read_network(const std::string& path, torch::serialize::InputArchive& archive, NetworkImpl& network) {
  torch::Tensor epoch;
  archive.read("epoch", epoch);
  torch::serialize::InputArchive model;
  archive.read("model", model);
  const auto shapes = tensor_shapes(network);
  network.load(model);
  check_shapes(path, shapes, network);
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

void save_checkpoint(const std::string& path, int64_t epoch, const NetworkImpl& network, const FixedPointSGD& optimizer,
                     const RunIdentity& identity) {
  torch::serialize::OutputArchive archive;
  archive.write("epoch", torch::tensor(epoch));
  torch::serialize::OutputArchive model;
  network.save(model);
  archive.write("model", model);
  torch::serialize::OutputArchive optim;
  optimizer.save(optim);
  archive.write("optimizer", optim);
  const nlohmann::ordered_json id = {{"config", identity.config},
                                     {"plan", identity.plan},
                                     {"checksum", hex(state_checksum(epoch, network, optimizer))}};
  archive.write(kIdentityKey, c10::IValue(id.dump()));
  write_file_atomic(path, [&](std::ostream& out) { archive.save_to(out); });
}

LoadedCheckpoint load_checkpoint(const std::string& path, NetworkImpl& network, FixedPointSGD& optimizer) {
  return with_checkpoint_errors(path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    LoadedCheckpoint loaded;
    loaded.epoch = read_network(path, archive, network);
    torch::serialize::InputArchive optim;
    archive.read("optimizer", optim);
    try {
      optimizer.load(optim);
    } catch (const std::runtime_error& e) { throw std::runtime_error(path + ": " + e.what()); }
    c10::IValue stored;
    if (archive.try_read(kIdentityKey, stored)) {
      try {
        const auto id = nlohmann::json::parse(stored.toStringRef());
        if (id.at("checksum").get<std::string>() != hex(state_checksum(loaded.epoch, network, optimizer)))
          throw std::runtime_error("checksum mismatch: the file is damaged (or was edited)");
        loaded.identity = RunIdentity{id.at("config").get<std::string>(), id.at("plan").get<std::string>()};
      } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(std::string("damaged run identity (") + e.what() + ")");
      } catch (const std::runtime_error& e) { throw std::runtime_error(path + ": " + e.what()); }
    }
    if (loaded.epoch < 1)
      throw std::runtime_error(path + ": epoch " + std::to_string(loaded.epoch) + " is not a finished epoch");
    return loaded;
  });
}

int64_t load_network_weights(const std::string& path, NetworkImpl& network) {
  const int64_t epoch = with_checkpoint_errors(path, [&] {
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    return read_network(path, archive, network);
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
