#pragma once
// The integer runtime: evaluates a fixed-point network (ir::Network) with integer operations only,
// either with the reference kernels (plain loops, the definition) or with the optimized kernels
// (packed weights, VNNI or portable vectorized loops, fused steps, OpenMP), which equal the
// reference bit for bit.
//
// Threads (optimized kernels): a large batch is split into chunks of samples that fit the cache,
// each chunk run through the whole network by one thread (one parallel region per run, no barrier
// between layers); a small batch (fewer than 2 samples per thread) runs one layer at a time on all
// threads, each step's work split over samples, output rows and output channels. Networks with
// little work per call run on the calling thread alone. Never more than `threads` threads, never
// nested parallel regions.
//
// Latency: weights are packed and every buffer is sized when the engine is built or first runs a
// batch of a given size; run(input, output) then allocates nothing.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/runtime/codes.h"
#include "fxnn/runtime/isa.h"

namespace fxnn::runtime {

struct EngineOptions {
  bool reference = false; // plain-loop reference kernels instead of the optimized ones
  Isa isa = Isa::kAuto;   // optimized kernels only
  int threads = 0;        // 0: omp_get_max_threads()
  bool profile = false;   // time every node (adds a clock read per node)
  /// Multiply-adds per call below which the optimized kernels run on the calling thread alone
  /// (-1: kDefaultParallelMinMacs; 0: always on `threads` threads).
  int64_t parallel_min_macs = -1;

  EngineOptions& with_reference(bool v) {
    reference = v;
    return *this;
  }
  EngineOptions& with_isa(Isa v) {
    isa = v;
    return *this;
  }
  EngineOptions& with_threads(int v) {
    threads = v;
    return *this;
  }
  EngineOptions& with_profile(bool v) {
    profile = v;
    return *this;
  }
  EngineOptions& with_parallel_min_macs(int64_t v) {
    parallel_min_macs = v;
    return *this;
  }
};

/// Waking the other threads and the barriers between layers cost a few microseconds: below this many
/// multiply-adds per call (e.g. a small MLP, or a small CNN at batch 1) one thread is faster.
inline constexpr int64_t kDefaultParallelMinMacs = int64_t{16} << 20;

/// Time spent in one node over all run() calls (when EngineOptions::profile).
struct NodeProfile {
  std::string node;
  std::string kernel; // what ran: "conv2d u8s8 avx512vnni", "maxpool nhwc", "reference", ...
  double seconds = 0;
  int64_t calls = 0;
};

class Engine {
 public:
  /// Validates the network and prepares every node (packs weights). Throws std::runtime_error.
  explicit Engine(const ir::Network& network, EngineOptions options = {});
  ~Engine();
  Engine(Engine&&) noexcept;
  Engine& operator=(Engine&&) noexcept;

  /// Output codes [N, ...output shape] in channels-first order for input codes [N, ...input_shape]
  /// of the network's input format (either layout). Throws std::invalid_argument on a shape or
  /// format mismatch.
  Codes run(const Codes& input);
  /// The same into `output`, whose storage is reused when it already has the output's format and
  /// size: after the first call with a batch size, no allocation (optimized kernels).
  void run(const Codes& input, Codes& output);

  const ir::Network& network() const { return network_; }
  const std::vector<NodeProfile>& profile() const { return profile_; }
  Isa isa() const { return isa_; }
  int threads() const { return threads_; }

 private:
  struct Prepared;
  struct Executor;
  void run_reference_nodes(const Codes& input, Codes& output);
  void run_optimized(const Codes& input, Codes& output);
  ir::Network network_;
  EngineOptions options_;
  Isa isa_ = Isa::kPortable;
  int threads_ = 1;
  std::vector<std::unique_ptr<Prepared>> nodes_; // reference mode
  std::unique_ptr<Executor> executor_;           // optimized mode
  std::vector<NodeProfile> profile_;
};

/// Index of the largest output code of each sample (the first one on ties): a classifier's prediction.
std::vector<int64_t> argmax_rows(const Codes& output);

} // namespace fxnn::runtime
