#include "fxnn/train/communicator.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace fxnn {

namespace {

// Heartbeats: every rank bumps its counter in the store this often; a rank whose counter stops
// moving for kHeartbeatWindow is the one that was lost.
constexpr std::chrono::milliseconds kHeartbeatPeriod{500};
constexpr std::chrono::milliseconds kHeartbeatWindow{2500};
// How long the failure path waits for the store's answers: the store lives in rank 0, and a frozen
// rank 0 never answers (its connections stay open, so no read fails by itself).
constexpr std::chrono::milliseconds kStoreAnswerLimit{kHeartbeatWindow + std::chrono::milliseconds(2500)};

std::pair<std::string, uint16_t> parse_master(const std::string& master) {
  const auto colon = master.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("--master '" + master + "': expected HOST:PORT");
  int port = 0;
  try {
    port = std::stoi(master.substr(colon + 1));
  } catch (const std::exception&) { port = -1; }
  if (port <= 0 || port > 65535) throw std::invalid_argument("--master '" + master + "': bad port");
  return {master.substr(0, colon), static_cast<uint16_t>(port)};
}

/// The message without LibTorch's C++ backtrace: one line.
std::string first_line(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  std::string text = c10_error ? c10_error->what_without_backtrace() : error.what();
  const auto newline = text.find('\n');
  return newline == std::string::npos ? text : text.substr(0, newline);
}

std::string heartbeat_key(int rank) { return "fxnn/alive/" + std::to_string(rank); }

} // namespace

struct Communicator::Group {
  std::string master;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::TCPStore> heartbeat_store; // its own connection: the beat thread never waits on a collective
  c10::intrusive_ptr<c10d::ProcessGroupGloo> process_group;
  std::atomic<bool> running{true};
  std::atomic<bool> beat_stopped{false};
  std::thread beat;
};

Communicator::Communicator(const DistributedOptions& options)
    : rank_(options.rank), size_(options.world_size), timeout_(options.timeout) {
  if (size_ < 1) throw std::invalid_argument("--world-size must be >= 1, got " + std::to_string(size_));
  if (rank_ < 0 || rank_ >= size_)
    throw std::invalid_argument("--rank " + std::to_string(rank_) + " is outside [0, " + std::to_string(size_) + ")");
  if (size_ == 1) return;
  const auto [host, port] = parse_master(options.master);
  group_ = std::make_shared<Group>();
  group_->master = options.master;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = port;
    store_options.isServer = rank_ == 0;
    store_options.numWorkers = size_;
    store_options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_);
    group_->store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    store_options.isServer = false;
    store_options.numWorkers = c10::nullopt;
    group_->heartbeat_store = c10::make_intrusive<c10d::TCPStore>(host, store_options);
    auto gloo =
        c10d::ProcessGroupGloo::Options::create(std::chrono::duration_cast<std::chrono::milliseconds>(timeout_));
    // On one machine, loopback; across machines, the interface that reaches the host name (or the one
    // GLOO_SOCKET_IFNAME names).
    const bool local = host == "127.0.0.1" || host == "localhost";
    gloo->devices.push_back(local ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                  : c10d::ProcessGroupGloo::createDefaultDevice());
    group_->process_group = c10::make_intrusive<c10d::ProcessGroupGloo>(group_->store, rank_, size_, gloo);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(rank_) + ": cannot join the run at " + options.master + " (" +
                             e.what() + ")");
  }
  group_->beat = std::thread([group = group_, rank = rank_] {
    while (group->running) {
      try {
        group->heartbeat_store->add(heartbeat_key(rank), 1);
      } catch (const std::exception&) {
        break; // the store is gone: the collectives will report it
      }
      std::this_thread::sleep_for(kHeartbeatPeriod);
    }
    group->beat_stopped = true;
  });
}

Communicator::~Communicator() {
  if (!group_) return;
  group_->running = false;
  const auto deadline = std::chrono::steady_clock::now() + 2 * kHeartbeatPeriod;
  while (!group_->beat_stopped && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (group_->beat_stopped && !failed_) {
    group_->beat.join();
    return;
  }
  // A frozen peer can leave the heartbeat, the store's connections and Gloo's threads blocked for good;
  // destroying them would block this process's exit as well. After a failure the process is about to
  // exit with its error: the group is left to the operating system instead (deliberately not freed).
  group_->beat.detach();
  new std::shared_ptr<Group>(std::move(group_));
}

void Communicator::fail(const std::string& operation, const std::exception& error) {
  failed_ = true;
  // Which ranks stopped beating? Read every counter twice, a heartbeat window apart, on a thread of its
  // own: a frozen rank 0 holds the store and never answers.
  auto answer = std::make_shared<std::promise<std::string>>();
  auto lost_ranks = answer->get_future();
  std::thread([group = group_, size = size_, rank = rank_, answer] {
    std::string lost;
    try {
      std::vector<int64_t> before(static_cast<size_t>(size));
      for (int r = 0; r < size; ++r) before[static_cast<size_t>(r)] = group->heartbeat_store->add(heartbeat_key(r), 0);
      std::this_thread::sleep_for(kHeartbeatWindow);
      for (int r = 0; r < size; ++r)
        if (r != rank && group->heartbeat_store->add(heartbeat_key(r), 0) == before[static_cast<size_t>(r)])
          lost += (lost.empty() ? "" : ", ") + std::to_string(r);
    } catch (const std::exception&) { lost = "0 (the master at " + group->master + " is unreachable)"; }
    answer->set_value(lost);
  }).detach();
  const std::string lost =
      lost_ranks.wait_for(kStoreAnswerLimit) == std::future_status::ready
          ? lost_ranks.get()
          : "0 (its store at " + group_->master + " does not answer: the rank is stopped or frozen)";
  throw std::runtime_error(
      "rank " + std::to_string(rank_) + ": " + operation + " failed: " +
      (lost.empty() ? std::string("no rank stopped beating (a timeout or a network error)") : "lost rank " + lost) +
      " [" + first_line(error) + "]");
}

void Communicator::wait(const std::string& operation, const std::function<void()>& run) {
  try {
    run();
  } catch (const std::exception& e) { fail(operation, e); }
}

void Communicator::all_reduce(torch::Tensor& tensor, bool maximum) {
  if (!group_) return;
  bytes_sent_ += static_cast<int64_t>(tensor.nbytes());
  std::vector<torch::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = maximum ? c10d::ReduceOp::MAX : c10d::ReduceOp::SUM;
  wait(maximum ? "all-reduce (max)" : "all-reduce",
       [&] { group_->process_group->allreduce(tensors, options)->wait(timeout_); });
}

std::vector<torch::Tensor> Communicator::all_gather(const torch::Tensor& tensor) {
  if (!group_) return {tensor};
  bytes_sent_ += static_cast<int64_t>(tensor.nbytes());
  std::vector<torch::Tensor> input{tensor.contiguous()};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < size_; ++r) output[0].push_back(torch::empty_like(input[0]));
  wait("all-gather", [&] { group_->process_group->allgather(output, input)->wait(timeout_); });
  return output[0];
}

void Communicator::broadcast(torch::Tensor& tensor) {
  if (!group_) return;
  if (rank_ == 0) bytes_sent_ += static_cast<int64_t>(tensor.nbytes());
  std::vector<torch::Tensor> tensors{tensor};
  wait("broadcast", [&] { group_->process_group->broadcast(tensors)->wait(timeout_); });
}

void Communicator::barrier() {
  if (!group_) return;
  wait("barrier", [&] { group_->process_group->barrier()->wait(timeout_); });
}

} // namespace fxnn
