#pragma once
// The direct convolution of the optimized kernels (docs/fixed-point-network.md, section 5): an
// implicit GEMM whose rows are output pixels and whose columns are output channels, with the A rows
// read in place from the zero-padded NHWC input instead of an im2col copy. In NHWC one kernel row of
// a window (k pixels x C channels) is contiguous, so the dot product of eq. (1) runs over k
// "segments" of k*C codes, each padded with zero weights to the operand group of the instruction
// (4 codes for u8s8, 2 for s16s16); the codes read past a segment meet those zero weights.
//
// Epilogue: eq. (3), and optionally the max-pool that follows the convolution when its windows do
// not overlap (kernel == stride): a row of the product is then a pooled output pixel, its pool^2
// convolution pixels are accumulated in registers and pooled in the accumulator domain
// (ChannelRequant::order_mask), so that only the pooled values are requantized and stored.
//
// Exactness: the products and sums are those of the reference (zero weights add nothing, partial
// sums are bounded by the node's worst case as in gemm.h), and max over a window of requantized
// codes equals the requantization of the window's largest (multiplier >= 0) or smallest
// (multiplier < 0) accumulator because eq. (3) is monotonic in acc.

#include <cstdint>
#include <string>

#include "aligned_buffer.h"
#include "channel_requant.h"
#include "fxnn/ir/fixed_point_network.h"
#include "gemm.h"

namespace fxnn::runtime {

/// B of the direct convolution for OIHW weights: column o, row (ky, t) = W[o, t % C, ky, t / C] for
/// t < k*C, zero for t in [k*C, segment).
///  - VNNI: blocks of 16 columns; in a block, for each group of `gemm_group` rows, 16 lanes of 32 bits
///    (the layout of GemmWeights);
///  - portable: blocks of 16 columns; in a block, row-major [k * segment][16].
class ConvWeights {
 public:
  ConvWeights() = default;
  /// `pairs`: the portable path's AVX2 kernel (s16s16 only): the VNNI layout of pairs of codes.
  ConvWeights(const ir::IntTensor& w, GemmKind kind, Isa isa, bool pairs = false);
  /// The AMX tiles' u8 x s16 form (conv_amx_split): weights W = 256 W_hi + W_lo with W_lo in
  /// [-128, 127], two u8s8 packings one after the other (W_lo, then W_hi), for u8 input codes.
  static ConvWeights split_bytes(const ir::IntTensor& w);

  GemmKind kind() const { return kind_; }
  Isa isa() const { return isa_; }
  bool pairs() const { return pairs_; }
  bool split() const { return split_; }
  int64_t n() const { return n_; }
  int64_t n_padded() const { return n_padded_; }
  int64_t kernel() const { return k_; }
  int64_t channels() const { return c_; }
  int64_t segment() const { return segment_; }    // codes per kernel row, k*C rounded up to the group
  int64_t depth() const { return k_ * segment_; } // rows of B
  const uint8_t* data() const { return data_.as<uint8_t>(); }

 private:
  GemmKind kind_ = GemmKind::kWide;
  Isa isa_ = Isa::kPortable;
  bool pairs_ = false;
  bool split_ = false;
  int64_t n_ = 0, n_padded_ = 0, k_ = 1, c_ = 1, segment_ = 1;
  AlignedBuffer data_;
};

/// Where the rows of one sample's product are: A (the padded input) and the output.
struct ConvGeometry {
  int64_t stride = 1;
  int64_t pool = 1;      // fused max-pool window and stride (1: none)
  int64_t out_width = 0; // width of the stored output (pooled when pool > 1); row r is (r / out_width, r % out_width)
  int64_t out_pad = 0;   // the output has a border of out_pad pixels (left to the caller): row r is stored at
                         // pixel (r / out_width + out_pad, r % out_width + out_pad) of rows out_width + 2 out_pad wide
  int64_t in_row_bytes = 0; // bytes of one row of the padded input (its width * C * element size)
  int64_t pixel_bytes = 0;  // C * element size
};

/// Output rows [row0, row1) of one sample (row = stored output pixel, all channels of the column
/// blocks [first_block, last_block)): `in` points at pixel (0, 0) of the padded NHWC input (the
/// padding included), `out` at the sample's NHWC output (out.ldc = channels, its border included). The input must be
/// readable up to segment - k*C codes past its end. Single-threaded, no allocation.
void conv_rows(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
               int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out);

/// The pool windows the VNNI tiles support (kernel^2 pixels held in registers): 1, 2, 3 and 4; the
/// portable kernels: any.
bool conv_pool_supported(Isa isa, int64_t pool);

/// How a direct convolution runs: the GEMM family of its formats (choose_gemm_kind), except on the
/// portable path of a CPU with AVX2, where u8s8 runs as s16s16 so that the AVX2 kernel (vpmaddwd on
/// pairs of 16-bit codes, conv_avx2.cpp) takes it; `pairs` when that kernel runs (pools of 1 or 2).
struct ConvChoice {
  GemmKind kind = GemmKind::kWide;
  bool pairs = false;
};
ConvChoice choose_conv(GemmKind kind, Isa isa, int64_t pool);

/// "u8s8 avx512vnni", ...
std::string conv_name(const ConvWeights& w);

/// The AMX tiles' shape for output rows of `width` convolution pixels: the largest divisor of width
/// in [4, 16] (even when `even`), or 0; and the K step for a segment of `segment` bytes: the largest
/// power of two <= 64 that divides it.
int64_t amx_tile_pixels(int64_t width, bool even);
int64_t amx_tile_depth(int64_t segment);

/// Whether a convolution of 16-bit weights (at most 15 bits: W_hi must fit a byte) and unsigned
/// input codes of at most 8 bits runs on the AMX tiles in the split form (two byte products per code,
/// acc = acc_lo + 256 acc_hi, exact in 32-bit wrap-around arithmetic because acc fits 32 bits):
/// `isa` AMX, a kernel row of k * in_channels codes whose segment the tiles take, and output rows of
/// `conv_width` pixels with an even divisor in [4, 16]. The input is then stored as u8.
bool conv_amx_split(const ir::Node& conv, const Format& in_format, Isa isa);

/// The type a convolution reads its input codes in, with `isa` the direct convolution's instruction
/// set: u8 for the split form (conv_amx_split), else the operand type of its GEMM family
/// (choose_conv). The plan stores the input so, and the convolution's geometry counts in it.
DType conv_input_type(const ir::Node& conv, const Format& in_format, Isa isa);

/// Whether the AMX tiles (conv_amx.cpp) take this convolution: u8s8 weights packed for kAvx512Amx,
/// no pool or a 2 x 2 one, a kernel row of a multiple of 16 bytes' worth of codes (the tiles' K
/// step: the largest power of two <= 64 dividing the segment) and output rows of a length with a
/// divisor in [4, 16] (even when pooled: the tiles' pixel rows).
bool conv_amx_supported(const ConvWeights& w, const ConvGeometry& g);

// The implementations (conv_amx.cpp, conv_vnni.cpp, conv_portable.cpp, conv_avx2.cpp).
void conv_rows_amx(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                   int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out);
bool conv_avx2_supported(int64_t pool);
void conv_rows_avx2(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                    int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out);
void conv_rows_vnni(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                    int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out);
void conv_rows_portable(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                        int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out);

} // namespace fxnn::runtime
