// AVX-512 VNNI kernels of gemm_requantize. Register tiles of MR rows x NV vectors of 16 columns:
// each step broadcasts one 32-bit group of a row of A and multiplies it into NV packed B vectors
// with vpdpbusd (4 x u8*s8 per lane) or vpdpwssd (2 x s16*s16 per lane). The epilogue is eq. (3)
// on 8 int64 lanes at a time (vpmullq, vpsraq, clamp) and a masked narrowing store.
// Compiled with target attributes, so the rest of the binary stays baseline x86-64; it is only
// called after isa_supported(Isa::kAvx512Vnni).

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define FXNN_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define FXNN_VNNI_INLINE inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

namespace fxnn::runtime {

namespace {

struct Epilogue {
  const int64_t* multiplier;
  const int64_t* offset;
  __m128i shift;
  __m512i lo, hi;
  GemmOutput out;
  int64_t n; // valid columns
};

FXNN_VNNI_INLINE __m512i requant8(__m512i acc64, const int64_t* m, const int64_t* o, const Epilogue& e) {
  __m512i v = _mm512_add_epi64(_mm512_mullo_epi64(acc64, _mm512_loadu_si512(m)), _mm512_loadu_si512(o));
  v = _mm512_sra_epi64(v, e.shift);
  return _mm512_min_epi64(_mm512_max_epi64(v, e.lo), e.hi);
}

/// Requantizes 16 accumulators of columns [col, col + 16) and stores the valid ones of row `row`.
FXNN_VNNI_INLINE void store16(__m512i acc, int64_t row, int64_t col, const Epilogue& e) {
  const __m512i l = requant8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)), e.multiplier + col, e.offset + col, e);
  const __m512i h = requant8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)), e.multiplier + col + 8,
                             e.offset + col + 8, e);
  const int64_t valid = std::min<int64_t>(16, e.n - col);
  const __mmask16 mask = static_cast<__mmask16>((1u << valid) - 1u);
  const int64_t at = row * e.out.ldc + col;
  switch (e.out.type) {
    case DType::kU8:
    case DType::kI8:
      _mm_mask_storeu_epi8(static_cast<int8_t*>(e.out.data) + at, mask,
                           _mm_unpacklo_epi64(_mm512_cvtepi64_epi8(l), _mm512_cvtepi64_epi8(h)));
      break;
    case DType::kI16:
      _mm256_mask_storeu_epi16(static_cast<int16_t*>(e.out.data) + at, mask,
                               _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi64_epi16(l)),
                                                       _mm512_cvtepi64_epi16(h), 1));
      break;
    case DType::kI32:
      _mm512_mask_storeu_epi32(static_cast<int32_t*>(e.out.data) + at, mask,
                               _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(l)),
                                                  _mm512_cvtepi64_epi32(h), 1));
      break;
    case DType::kI64:
      _mm512_mask_storeu_epi64(static_cast<int64_t*>(e.out.data) + at, static_cast<__mmask8>(mask & 0xff), l);
      _mm512_mask_storeu_epi64(static_cast<int64_t*>(e.out.data) + at + 8, static_cast<__mmask8>(mask >> 8), h);
      break;
  }
}

/// One MR x (NV * 16) tile: rows [row0, row0 + rows) of the output (rows <= MR; A holds MR readable
/// rows), column blocks [block0, block0 + NV).
template <bool kBytes, int MR, int NV>
FXNN_VNNI void tile(const uint8_t* a, int64_t lda_bytes, const uint8_t* b, int64_t groups, int64_t block0,
                    int64_t row0, int64_t rows, const Epilogue& e) {
  const int64_t panel = groups * 64; // bytes of one block of 16 columns
  const uint8_t* bp = b + block0 * panel;
  __m512i acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_si512(bp + v * panel + g * 64);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      int32_t word;
      std::memcpy(&word, a + r * lda_bytes + g * 4, 4);
      const __m512i av = _mm512_set1_epi32(word);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        if constexpr (kBytes) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
        else acc[r][v] = _mm512_dpwssd_epi32(acc[r][v], av, bv[v]);
      }
    }
  }
  for (int r = 0; r < MR; ++r) {
    if (r >= rows) break;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store16(acc[r][v], row0 + r, (block0 + v) * 16, e);
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int64_t, const Epilogue&);

/// Tile shapes: NV vectors of columns with as many rows as the 32 vector registers allow
/// (MR * NV accumulators + NV weights + 1 broadcast).
template <bool kBytes>
struct Tiles {
  int mr;
  TileFn fn[5]; // by NV = 1..4 (index 0 unused)
};

template <bool kBytes, int MR>
Tiles<kBytes> tiles_of() {
  Tiles<kBytes> t{MR, {nullptr, tile<kBytes, MR, 1>, nullptr, nullptr, nullptr}};
  if constexpr (MR * 2 + 3 <= 32) t.fn[2] = tile<kBytes, MR, 2>;
  if constexpr (MR * 3 + 4 <= 32) t.fn[3] = tile<kBytes, MR, 3>;
  if constexpr (MR * 4 + 5 <= 32) t.fn[4] = tile<kBytes, MR, 4>;
  return t;
}

template <bool kBytes>
Tiles<kBytes> tiles_for(int64_t blocks) {
  if (blocks >= 4) return tiles_of<kBytes, 6>();
  if (blocks == 3) return tiles_of<kBytes, 8>();
  if (blocks == 2) return tiles_of<kBytes, 12>();
  return tiles_of<kBytes, 16>();
}

template <bool kBytes>
void run(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda_bytes, const Epilogue& e) {
  const int64_t blocks = b.n_padded() / 16;
  const int64_t groups = b.k_padded() * (kBytes ? 1 : 2) / 4;
  const Tiles<kBytes> t = tiles_for<kBytes>(blocks);
  const int nv_max = static_cast<int>(std::min<int64_t>(4, blocks));
  std::vector<uint8_t> tail; // the last rows, copied into MR zero-padded rows so that tiles read only valid memory
  for (int64_t row0 = 0; row0 < rows; row0 += t.mr) {
    const int64_t count = std::min<int64_t>(t.mr, rows - row0);
    const uint8_t* rows_a = a + row0 * lda_bytes;
    int64_t stride = lda_bytes;
    if (count < t.mr) {
      const int64_t row_bytes = groups * 4;
      tail.assign(static_cast<size_t>(t.mr * row_bytes), 0);
      for (int64_t r = 0; r < count; ++r) std::memcpy(tail.data() + r * row_bytes, rows_a + r * lda_bytes, row_bytes);
      rows_a = tail.data();
      stride = row_bytes;
    }
    for (int64_t block0 = 0; block0 < blocks; block0 += nv_max) {
      const int nv = static_cast<int>(std::min<int64_t>(nv_max, blocks - block0));
      t.fn[nv](rows_a, stride, b.data(), groups, block0, row0, count, e);
    }
  }
}

FXNN_VNNI void gemm_vnni_impl(const GemmWeights& b, const void* a, int64_t rows, int64_t lda,
                              const ChannelRequant& requant, const GemmOutput& out) {
  Epilogue e{requant.multiplier.data(), requant.offset.data(), _mm_cvtsi32_si128(requant.shift),
             _mm512_set1_epi64(requant.lo), _mm512_set1_epi64(requant.hi), out, b.n()};
  const auto* bytes = static_cast<const uint8_t*>(a);
  if (b.kind() == GemmKind::kU8S8) run<true>(b, bytes, rows, lda, e);
  else run<false>(b, bytes, rows, lda * 2, e);
}

} // namespace

void gemm_vnni(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
               const GemmOutput& out) {
  if (b.kind() == GemmKind::kWide) throw std::logic_error("gemm_vnni: no VNNI kernel for 64-bit accumulators");
  if (static_cast<int64_t>(requant.multiplier.size()) < b.n_padded())
    throw std::logic_error("gemm_vnni: requantization prepared for fewer channels than the packed weights");
  gemm_vnni_impl(b, a, rows, lda, requant, out);
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
void gemm_vnni(const GemmWeights&, const void*, int64_t, int64_t, const ChannelRequant&, const GemmOutput&) {
  throw std::logic_error("gemm_vnni: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
