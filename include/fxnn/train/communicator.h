#pragma once
// The processes of a data-parallel run and what they exchange (docs/distributed.md): LibTorch's c10d
// process group with the Gloo backend and a TCPStore. A world of one process needs neither.

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fxnn {

struct DistributedOptions {
  int world_size = 1;
  int rank = 0;
  /// host:port of rank 0, where the TCPStore runs (rank 0 listens, the others connect).
  std::string master = "127.0.0.1:29500";
  /// A collective that has not completed after this long fails (a lost or stuck rank).
  std::chrono::seconds timeout{60};
};

/// Collectives over the processes of the run; every call is made by every rank in the same order.
/// Failures (a rank that died, a connection that broke, a timeout) become std::runtime_error naming
/// the lost rank: every rank bumps a counter in the store twice a second from a background thread, and
/// the ranks whose counters stop are the lost ones. A frozen rank (SIGSTOP) fails its peers' next
/// collective after `timeout`, and nothing in the failure path waits on it for longer than a few
/// seconds (docs/distributed.md, "When a rank is lost").
class Communicator {
 public:
  explicit Communicator(const DistributedOptions& options);
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  /// In place: the element-wise sum (or max) over ranks. Integer sums are exact and independent of order.
  void all_reduce_sum(torch::Tensor& tensor) { all_reduce(tensor, false); }
  void all_reduce_max(torch::Tensor& tensor) { all_reduce(tensor, true); }
  /// Every rank's tensor (same shape and dtype everywhere), in rank order.
  std::vector<torch::Tensor> all_gather(const torch::Tensor& tensor);
  /// In place: rank 0's tensor on every rank.
  void broadcast(torch::Tensor& tensor);
  void barrier();

  /// Bytes this rank has sent into collectives so far (payload size, not wire bytes).
  int64_t bytes_sent() const { return bytes_sent_; }

 private:
  struct Group;
  void all_reduce(torch::Tensor& tensor, bool maximum);
  [[noreturn]] void fail(const std::string& operation, const std::exception& error);
  void wait(const std::string& operation, const std::function<void()>& run);

  int rank_ = 0;
  int size_ = 1;
  std::chrono::seconds timeout_{60};
  int64_t bytes_sent_ = 0;
  std::shared_ptr<Group> group_; // null for a world of one; shared with the heartbeat thread
  bool failed_ = false;          // a collective failed: the group may hold threads blocked on a frozen peer
};

} // namespace fxnn
