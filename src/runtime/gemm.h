#pragma once
// The integer matrix product with fused requantization to which the optimized conv2d and dense
// kernels reduce (docs/fixed-point-network.md, section 5):
//
//   out[i, j] = requantize_j( sum_k A[i, k] * B[k, j] )       (eq. (1)/(2), then eq. (3))
//
// with A the activations (rows: samples or output pixels; columns: the dot-product index) and
// B = W^T. For a validated node the products are exact and no partial sum leaves the accumulator
// (ir::worst_case_accumulator bounds every partial sum too), so every kernel family and ISA below
// computes exactly what runtime::requantize_reference computes.

#include <cstdint>
#include <string>
#include <vector>

#include "aligned_buffer.h"
#include "channel_requant.h"
#include "fxnn/runtime/codes.h"
#include "fxnn/runtime/isa.h"

namespace fxnn::runtime {

/// Operand types: which kernel family runs.
enum class GemmKind {
  kU8S8,   // A uint8, B int8, int32 accumulator (vpdpbusd): unsigned <= 8-bit activations, <= 8-bit weights
  kS16S16, // A int16, B int16, int32 accumulator (vpdpwssd): operands of <= 16 bits
  kWide,   // A int64, B int64, int64 accumulator: everything else
};

/// Elements of A (and B) per 32-bit group, the unit of the VNNI dot products: 4, 2 or 1. The
/// dot-product length is padded with zero weights to a multiple of it.
int gemm_group(GemmKind kind);
/// Storage type of A's elements: kU8, kI16 or kI64.
DType gemm_a_type(GemmKind kind);
/// The family for activations stored as `a` with weights of format `w` and an accumulator of
/// `accumulator_bits` (32 or 64) that the node's worst case fits.
GemmKind choose_gemm_kind(DType a, const Format& w, int accumulator_bits);

/// B = W^T of a weight matrix W [n, k] (row-major codes), packed once for a kernel family and ISA:
///  - VNNI: blocks of 16 columns; in a block, for each group of `gemm_group` k's, 16 lanes of 32 bits
///    holding one column's group (64 bytes, the operand of one vpdpbusd/vpdpwssd);
///  - portable: column-major, each column's k_padded codes contiguous.
class GemmWeights {
 public:
  GemmWeights() = default;
  /// `narrow`: the products run with 16-bit accumulators (gemm_narrow.h; kU8S8 only, the caller
  /// checks fits_narrow_accumulator).
  GemmWeights(const std::vector<int64_t>& w, int64_t n, int64_t k, GemmKind kind, Isa isa, bool narrow = false);

  GemmKind kind() const { return kind_; }
  bool narrow() const { return narrow_; }
  Isa isa() const { return isa_; }
  int64_t n() const { return n_; }
  int64_t k() const { return k_; }
  int64_t k_padded() const { return k_padded_; }
  int64_t n_padded() const { return n_padded_; } // multiple of 16
  const uint8_t* data() const { return data_.as<uint8_t>(); }

 private:
  GemmKind kind_ = GemmKind::kWide;
  Isa isa_ = Isa::kPortable;
  bool narrow_ = false;
  int64_t n_ = 0, k_ = 0, k_padded_ = 0, n_padded_ = 0;
  AlignedBuffer data_;
};

/// The kernel that runs, for profiles: "u8s8 avx512vnni", "u8s8 i16 avx512bw", "wide portable", ...
std::string gemm_name(const GemmWeights& b);

/// Where the product goes: `rows` x n codes of `type`, row stride `ldc` elements.
struct GemmOutput {
  DType type = DType::kI64;
  void* data = nullptr;
  int64_t ldc = 0;
};

/// out = requantize(A B) for `rows` rows of A (gemm_a_type(b.kind()), row stride `lda` elements,
/// k_padded readable elements per row, zero beyond k). `requant` was prepared with n_padded
/// channels. Only the columns of the 16-column blocks [first_block, last_block) are computed
/// (last_block < 0: up to n_padded / 16), so that threads may split the columns as well as the rows
/// (not for narrow weights, which always compute every column). Single-threaded, no allocation.
void gemm_requantize(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                     const GemmOutput& out, int64_t first_block = 0, int64_t last_block = -1);

// The two implementations behind gemm_requantize (gemm_vnni.cpp, gemm_portable.cpp).
void gemm_vnni(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
               const GemmOutput& out, int64_t first_block, int64_t last_block);
void gemm_portable(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                   const GemmOutput& out, int64_t first_block, int64_t last_block);

} // namespace fxnn::runtime
