// AVX-512BW kernel of gemm_narrow: register tiles of MR rows x NV vectors of 16 columns over the
// VNNI packing of the kU8S8 family (16 lanes of 4-byte k groups). Each step broadcasts one 4-byte
// group of a row of A and, per weight vector, forms 32 pair sums a0 w0 + a1 w1 with vpmaddubsw and
// adds them into 16-bit lanes with vpaddw: two int16 partial sums per column. At the end vpmaddwd
// with ones adds the two into int32, and eq. (3) runs on the int32 sums (narrow_epilogue.h).
// Compiled with target attributes and only called after isa_supported(Isa::kAvx512Vnni), which
// includes AVX-512BW.

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "gemm_narrow.h"
#include "narrow_epilogue.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define FXNN_AVX512BW __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

namespace fxnn::runtime {

namespace {

/// Bytes of one 4-byte group of 16 columns: the operand of one vpmaddubsw.
constexpr int64_t kGroupBytes = 64;

/// Sums [MR][NV * 16] (int32) of rows a[0..MR) with column blocks [block0, block0 + NV).
template <int MR, int NV>
FXNN_AVX512BW void tile_sums(const uint8_t* a, int64_t lda, const uint8_t* b, int64_t groups, int64_t block0,
                             int32_t* sums) {
  const int64_t panel = groups * kGroupBytes;
  const uint8_t* bp = b + block0 * panel;
  __m512i acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = _mm512_load_si512(bp + v * panel + g * kGroupBytes);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      int32_t word;
      std::memcpy(&word, a + r * lda + g * 4, 4);
      const __m512i x = _mm512_set1_epi32(word);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_add_epi16(acc[r][v], _mm512_maddubs_epi16(x, w[v]));
    }
  }
  const __m512i ones = _mm512_set1_epi16(1);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) _mm512_storeu_si512(sums + (r * NV + v) * 16, _mm512_madd_epi16(acc[r][v], ones));
}

/// All rows: tiles of MR x NV, the last column blocks in tiles of MR x 1; the last rows are copied
/// into MR zero rows so that a tile only reads valid memory.
template <int MR, int NV>
FXNN_AVX512BW void run(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda, const ChannelRequant& rq,
                       const GemmOutput& out) {
  const int64_t blocks = b.n_padded() / 16, groups = b.k_padded() / 4, n = b.n();
  alignas(64) int32_t sums[MR * NV * 16];
  std::vector<uint8_t> padded;
  for (int64_t row0 = 0; row0 < rows; row0 += MR) {
    const int64_t count = std::min<int64_t>(MR, rows - row0);
    const uint8_t* tile_a = a + row0 * lda;
    int64_t stride = lda;
    if (count < MR) {
      padded.assign(static_cast<size_t>(MR * groups * 4), 0);
      for (int64_t r = 0; r < count; ++r) std::memcpy(padded.data() + r * groups * 4, tile_a + r * lda, groups * 4);
      tile_a = padded.data();
      stride = groups * 4;
    }
    for (int64_t block0 = 0; block0 < blocks;) {
      // Identical branches where NV == 1 (that instantiation has no wide tile).
      const int nv = blocks - block0 >= NV ? NV : 1; // NOLINT(bugprone-branch-clone)
      if (nv == NV)                                  // NOLINT(bugprone-branch-clone)
        tile_sums<MR, NV>(tile_a, stride, b.data(), groups, block0, sums);
      else
        tile_sums<MR, 1>(tile_a, stride, b.data(), groups, block0, sums);
      const int64_t col0 = block0 * 16, columns = std::min<int64_t>(nv * 16, n - col0);
      for (int64_t r = 0; r < count && columns > 0; ++r)
        requantize_row(sums + r * nv * 16, columns, rq, col0, out, row0 + r);
      block0 += nv;
    }
  }
}

} // namespace

void gemm_narrow_avx512(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                        const ChannelRequant& requant, const GemmOutput& out) {
  if (static_cast<int64_t>(requant.multiplier.size()) < b.n_padded())
    throw std::logic_error("gemm_narrow_avx512: requantization prepared for fewer channels than the packed weights");
  // The tile with as many rows as the 32 registers allow: MR * NV accumulators, NV weights, 1 broadcast.
  const int64_t blocks = b.n_padded() / 16;
  if (blocks >= 4)
    run<6, 4>(b, a, rows, lda, requant, out);
  else if (blocks == 3)
    run<8, 3>(b, a, rows, lda, requant, out);
  else if (blocks == 2)
    run<12, 2>(b, a, rows, lda, requant, out);
  else
    run<16, 1>(b, a, rows, lda, requant, out);
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
void gemm_narrow_avx512(const GemmWeights&, const uint8_t*, int64_t, int64_t, const ChannelRequant&,
                        const GemmOutput&) {
  throw std::logic_error("gemm_narrow_avx512: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
