#pragma once
// The optimized kernels of the integer runtime as an execution plan (docs/fixed-point-network.md,
// section 5): the network's nodes become steps, with
//  - the input rescale folded into the staging of the next convolution or dense layer (a per-channel
//    table of the <= 256 input codes, applied while the step copies its input into its own operand
//    buffer);
//  - a max-pool with non-overlapping windows fused into the epilogue of the convolution before it;
//  - a flatten of an NHWC tensor read in place by the dense layers after it, whose weight columns
//    are permuted from (c, y, x) to (y, x, c) order at load time;
// and the weights packed once. Every step equals its reference kernels bit for bit
// (runtime/reference_kernels.h), which tests/runtime checks.
//
// A step works on a slice of the batch (the samples of one chunk, or the whole batch) and splits
// its work into independent units, so that the engine can run it either on one thread per chunk of
// samples (large batches) or on all threads at once, unit ranges per thread (small batches).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "aligned_buffer.h"
#include "fxnn/ir/fixed_point_network.h"
#include "fxnn/runtime/codes.h"
#include "fxnn/runtime/isa.h"

namespace fxnn::runtime {

/// One tensor of the plan, per sample: 3-D tensors [C, H, W] are stored channels-last (NHWC), with
/// a zero border of `pad` pixels for the staged inputs of convolutions; others in canonical order.
struct PlanTensor {
  DType dtype = DType::kU8;
  std::vector<int64_t> shape; // per sample, canonical order
  int64_t pad = 0;
  int64_t sample_bytes = 0; // bytes per sample, the border included
  int slot = -1;            // arena slot (-1: the network input)
};

/// The tensors of one slice of the batch: base[t] is tensor t's sample 0 of the slice.
struct Slice {
  uint8_t* const* base = nullptr;
  int64_t samples = 0;
  bool input_channels_last = false; // layout of tensor 0, the network input
};

class Step {
 public:
  virtual ~Step() = default;
  /// What runs, for profiles.
  virtual std::string kernel() const = 0;
  /// Independent units of work for `samples` samples when `threads` threads share them.
  virtual int64_t units(int64_t samples, int threads) const = 0;
  /// Units [u0, u1) of the decomposition units(s.samples, threads) gives; `scratch` is this thread's.
  virtual void run(const Slice& s, int64_t u0, int64_t u1, AlignedBuffer& scratch, int threads) const = 0;
  /// Bytes of per-thread scratch that run() needs for a slice of `samples` samples.
  virtual size_t scratch_bytes(int64_t samples, int threads) const {
    (void)samples, (void)threads;
    return 0;
  }
  /// Multiply-adds per sample (0 for data movement): the engine's measure of work.
  virtual int64_t macs_per_sample() const { return 0; }

  std::vector<int> inputs; // tensors read
  int output = -1;         // tensor written
  int node = -1;           // the IR node whose profile entry its time goes to
};

struct Plan {
  std::vector<PlanTensor> tensors; // 0: the network input
  std::vector<std::unique_ptr<Step>> steps;
  int output = 0;                        // tensor holding the network output
  std::vector<int64_t> slot_bytes;       // per sample, each a multiple of 64
  std::vector<std::string> node_kernels; // per IR node: what runs it (fused nodes say into what)
  int64_t macs_per_sample = 0;
  int64_t arena_bytes_per_sample() const;
};

/// `isa` resolved (kPortable or kAvx512Vnni). Throws std::runtime_error naming a node that cannot
/// be prepared.
Plan build_plan(const ir::Network& network, Isa isa);

/// Copies samples [n0, n0 + count) of the plan's output tensor (slice base `src`) into `out`
/// (canonical order, the whole batch).
void copy_output(const Plan& plan, const uint8_t* src, int64_t n0, int64_t count, Codes& out);

} // namespace fxnn::runtime
