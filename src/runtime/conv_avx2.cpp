// AVX2 tiles of the direct convolution on the portable path (conv_direct.h), for CPUs without
// AVX-512: 16-bit operands only (the engine runs the u8s8 family as s16s16 there), pairs of codes
// multiplied and added into 32-bit lanes by vpmaddwd (16 products per instruction), the weights in
// the pair layout of the VNNI s16s16 packing. MR pixels x 16 output channels (two 8-lane vectors) of
// accumulators; the epilogue pools in the accumulator domain as the VNNI tiles do, then eq. (3) in
// plain int64 arithmetic. vpmaddwd wraps when both products of a pair are (-2^15)^2, and so may a
// running sum, but only modulo 2^32: the final sums, which fit 32 bits (the node's worst case), are
// exact, as with vpdpwssd.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "conv_direct.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define FXNN_AVX2 __attribute__((target("avx2")))

namespace fxnn::runtime {

namespace {

constexpr int kMaxRows = 6;

struct Avx2Tile {
  const uint8_t* a[kMaxRows * 2]; // window origins of the MR convolution pixels
  int64_t out[kMaxRows];          // element offsets of the stored pixels' output rows
  int64_t stored;
  int64_t segments, seg_groups, in_row_bytes;
  const uint8_t* b; // block's panel
};

/// MR convolution pixels (groups of P) x 16 columns: int32 sums, pooled over each group of P
/// (acc ^ mask, max, ^ mask), into `sums` [MR / P][16].
template <int MR, int P>
FXNN_AVX2 void tile_sums(const Avx2Tile& t, const int32_t* order_mask, int32_t* sums) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  for (int64_t s = 0; s < t.segments; ++s) {
    const uint8_t* ap[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) ap[r] = t.a[r] + s * t.in_row_bytes;
    const uint8_t* bs = t.b + s * t.seg_groups * 64;
    for (int64_t g = 0; g < t.seg_groups; ++g) {
      const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bs + g * 64));
      const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bs + g * 64 + 32));
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        int32_t word;
        std::memcpy(&word, ap[r] + g * 4, 4);
        const __m256i x = _mm256_set1_epi32(word);
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
      }
    }
  }
  const __m256i m0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(order_mask));
  const __m256i m1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(order_mask + 8));
  for (int w = 0; w < MR / P; ++w) {
    __m256i p0 = _mm256_xor_si256(acc[w * P][0], m0), p1 = _mm256_xor_si256(acc[w * P][1], m1);
    for (int i = 1; i < P; ++i) {
      p0 = _mm256_max_epi32(p0, _mm256_xor_si256(acc[w * P + i][0], m0));
      p1 = _mm256_max_epi32(p1, _mm256_xor_si256(acc[w * P + i][1], m1));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + w * 16), _mm256_xor_si256(p0, m0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(sums + w * 16 + 8), _mm256_xor_si256(p1, m1));
  }
}

using SumsFn = void (*)(const Avx2Tile&, const int32_t*, int32_t*);

template <typename Out>
void rows_typed(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                int64_t first, int64_t last, const ChannelRequant& rq, const GemmOutput& out) {
  const int64_t pixels = g.pool * g.pool;
  // 6 pixels without pooling, one window of 4 for 2 x 2 pools, of 1 for 1 x 1 (tiles of 6 x 16 use
  // 12 accumulators + 2 weights + 1 broadcast of the 16 registers).
  SumsFn fn = nullptr;
  int64_t mr = 0;
  if (pixels == 1)
    fn = tile_sums<6, 1>, mr = 6;
  else if (pixels == 4)
    fn = tile_sums<4, 4>, mr = 4;
  else
    throw std::logic_error("conv_rows_avx2: unsupported pool window");
  const int64_t per_tile = mr / pixels;
  Avx2Tile t;
  t.segments = w.kernel();
  t.seg_groups = w.segment() / 2;
  t.in_row_bytes = g.in_row_bytes;
  int64_t window[4];
  for (int64_t p = 0; p < pixels; ++p)
    window[p] = (p / g.pool) * g.stride * g.in_row_bytes + (p % g.pool) * g.stride * g.pixel_bytes;
  const int64_t step_x = g.pool * g.stride * g.pixel_bytes, step_y = g.pool * g.stride * g.in_row_bytes;
  const int64_t wp = g.out_width + 2 * g.out_pad;
  Out* y_out = static_cast<Out*>(out.data);
  alignas(32) int32_t sums[kMaxRows * 16];
  int64_t y = row0 / g.out_width, x = row0 % g.out_width;
  for (int64_t r = row0; r < row1; r += per_tile) {
    t.stored = std::min(per_tile, row1 - r);
    for (int64_t s = 0; s < per_tile; ++s) {
      const uint8_t* origin = in + y * step_y + x * step_x;
      for (int64_t p = 0; p < pixels; ++p) t.a[s * pixels + p] = origin + window[p];
      t.out[s] = ((y + g.out_pad) * wp + x + g.out_pad) * out.ldc;
      if (r + s + 1 < row1 && ++x == g.out_width) x = 0, ++y;
    }
    for (int64_t block = first; block < last; ++block) {
      t.b = w.data() + block * w.depth() * 2 * 16;
      const int64_t j0 = block * 16, columns = std::min<int64_t>(16, w.n() - j0);
      fn(t, rq.order_mask.data() + j0, sums);
      for (int64_t s = 0; s < t.stored; ++s)
        for (int64_t j = 0; j < columns; ++j)
          y_out[t.out[s] + j0 + j] =
              static_cast<Out>(requantize_folded(sums[s * 16 + j], rq.multiplier[static_cast<size_t>(j0 + j)],
                                                 rq.offset[static_cast<size_t>(j0 + j)], rq.shift, rq.lo, rq.hi));
    }
  }
}

} // namespace

bool conv_avx2_supported(int64_t pool) { return pool == 1 || pool == 2; }

void conv_rows_avx2(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                    int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  switch (out.type) {
    case DType::kU8: rows_typed<uint8_t>(w, g, in, row0, row1, first_block, last_block, rq, out); return;
    case DType::kI8: rows_typed<int8_t>(w, g, in, row0, row1, first_block, last_block, rq, out); return;
    case DType::kI16: rows_typed<int16_t>(w, g, in, row0, row1, first_block, last_block, rq, out); return;
    case DType::kI32: rows_typed<int32_t>(w, g, in, row0, row1, first_block, last_block, rq, out); return;
    case DType::kI64: rows_typed<int64_t>(w, g, in, row0, row1, first_block, last_block, rq, out); return;
  }
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
bool conv_avx2_supported(int64_t) { return false; }
void conv_rows_avx2(const ConvWeights&, const ConvGeometry&, const uint8_t*, int64_t, int64_t, int64_t, int64_t,
                    const ChannelRequant&, const GemmOutput&) {
  throw std::logic_error("conv_rows_avx2: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
