#pragma once
// The integer runtime: evaluates a fixed-point network (ir::Network) with integer operations only,
// either with the reference kernels (plain loops, the definition) or with the optimized kernels
// (packed weights, VNNI or portable vectorized loops, OpenMP), which equal the reference bit for bit.

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

  EngineOptions& with_reference(bool v) { reference = v; return *this; }
  EngineOptions& with_isa(Isa v) { isa = v; return *this; }
  EngineOptions& with_threads(int v) { threads = v; return *this; }
  EngineOptions& with_profile(bool v) { profile = v; return *this; }
};

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

  const ir::Network& network() const { return network_; }
  const std::vector<NodeProfile>& profile() const { return profile_; }
  Isa isa() const { return isa_; }
  int threads() const { return threads_; }

 private:
  struct Prepared;
  ir::Network network_;
  EngineOptions options_;
  Isa isa_ = Isa::kPortable;
  int threads_ = 1;
  std::vector<std::unique_ptr<Prepared>> nodes_;
  std::vector<NodeProfile> profile_;
};

/// Index of the largest output code of each sample (the first one on ties): a classifier's prediction.
std::vector<int64_t> argmax_rows(const Codes& output);

} // namespace fxnn::runtime
