#pragma once
// Integer matrix products with 16-bit accumulators for low-bit codes (docs/lowbit.md, section 6):
// u8 activations times s8 weights (the kU8S8 family and its packing) where every partial sum of
// every dot product fits int16, so that 16-bit lanes (vpmaddubsw + vpaddw on AVX-512BW, int16
// loops in the portable kernel) add twice as many products per instruction as 32-bit lanes. The
// sums are widened to int32 before eq. (3), so the bias and the multiplier never meet 16 bits.
//
// Exactness: |partial sum| <= sum_i |W[c, i]| max|a| = ir::worst_case_accumulator; when that is at
// most 2^15 - 1 no product, pair sum (vpmaddubsw saturates at +-2^15) or running sum leaves int16,
// hence every kernel here computes the reference sums exactly. The engine runs them only when the
// bound of eq. (9) of docs/lowbit.md, n max|W| max|a| + max|b| (never smaller), fits 16 bits as well.

#include <cstdint>

#include "fxnn/ir/worst_case.h"
#include "gemm.h"

namespace fxnn::runtime {

/// The largest |partial sum| a 16-bit accumulator holds.
inline constexpr uint64_t kNarrowAccumulatorMax = 32767;

/// eq. (9) of docs/lowbit.md for a conv2d or dense node on input codes of `in_format`:
/// n max|W| max|in| + max_c |b_c|, n the products per output, b_c = offset_c / multiplier_c (rounded
/// away from zero) the bias in accumulator units; saturated at 2^64 - 1.
uint64_t accumulator_bound(const ir::Node& node, const Format& in_format);

/// True when the kU8S8 family may run with 16-bit accumulators: both `worst` (the node's
/// ir::worst_case_accumulator, in every channel) and `bound` (accumulator_bound) are at most
/// kNarrowAccumulatorMax.
bool fits_narrow_accumulator(GemmKind kind, const ir::WorstCase& worst, uint64_t bound);

/// How the engine runs a node's product: `narrow` with the weights packed for `packing`.
struct NarrowChoice {
  bool narrow = false;
  Isa packing = Isa::kPortable;
};

/// For the engine's instruction set `isa`:
///  - avx512vnni: never narrow. vpdpbusd adds 4 products into each 32-bit lane in one instruction,
///    vpmaddubsw + vpaddw the same 4 in two; the 32-bit VNNI kernel is the faster one
///    (`fxnn bench narrow`, experiments/lowbit/README.md), so 16-bit sums gain nothing where VNNI exists;
///  - portable: narrow whenever fits_narrow_accumulator, with the AVX-512BW tiles (VNNI packing, no
///    VNNI instruction) when this CPU has AVX-512BW, else the int16 loops (column-major packing).
NarrowChoice choose_narrow(GemmKind kind, const ir::WorstCase& worst, uint64_t bound, Isa isa);

/// gemm_requantize for weights packed with narrow accumulation (GemmWeights::narrow()): AVX-512BW
/// tiles when b.isa() is kAvx512Vnni (the VNNI packing), portable int16 loops otherwise.
void gemm_narrow(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                 const GemmOutput& out);

// The two implementations (gemm_narrow_avx512.cpp, gemm_narrow.cpp).
void gemm_narrow_avx512(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                        const ChannelRequant& requant, const GemmOutput& out);
void gemm_narrow_portable(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                          const ChannelRequant& requant, const GemmOutput& out);

} // namespace fxnn::runtime
