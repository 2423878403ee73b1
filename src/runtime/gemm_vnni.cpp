// AVX-512 VNNI kernels of gemm_requantize. Register tiles of MR rows x NV vectors of 16 columns:
// each step broadcasts one 32-bit group of a row of A and multiplies it into NV packed B vectors
// with vpdpbusd (4 x u8*s8 per lane) or vpdpwssd (2 x s16*s16 per lane). The epilogue is eq. (3)
// on 8 int64 lanes at a time (vpmullq, vpsraq, clamp) and a masked narrowing store.
// Compiled with target attributes, so the rest of the binary stays baseline x86-64; it is only
// called after isa_supported(Isa::kAvx512Vnni).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as maybe-uninitialized
// (a known false positive of avx512fintrin.h); nothing of this file is.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

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
  int64_t n;               // valid columns
  bool narrow_multipliers; // every multiplier in [-2^31, 2^31)
};

FXNN_VNNI_INLINE __m512i requant8(__m512i acc64, const int64_t* m, const int64_t* o, const Epilogue& e) {
  // acc fits 32 bits; when the multipliers do too, vpmuldq (32 x 32 -> 64, one uop) gives the same
  // exact product as vpmullq (64 x 64, three uops).
  const __m512i product = e.narrow_multipliers ? _mm512_mul_epi32(acc64, _mm512_loadu_si512(m))
                                               : _mm512_mullo_epi64(acc64, _mm512_loadu_si512(m));
  __m512i v = _mm512_add_epi64(product, _mm512_loadu_si512(o));
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

// The accumulators of a tile are named variables, not an array: GCC keeps an array of vectors in
// memory even when every index is a constant, and a tile is only fast with all of them in registers.
// X-macros spell out rows 0..15 and column vectors 0..3; `if constexpr` keeps those of the tile.
#define FXNN_TILE_ROWS(X, v) \
  X(0, v) X(1, v) X(2, v) X(3, v) X(4, v) X(5, v) X(6, v) X(7, v) X(8, v) X(9, v) X(10, v) X(11, v) X(12, v) X(13, v) \
      X(14, v) X(15, v)
#define FXNN_TILE_ALL(X) FXNN_TILE_ROWS(X, 0) FXNN_TILE_ROWS(X, 1) FXNN_TILE_ROWS(X, 2) FXNN_TILE_ROWS(X, 3)

/// One MR x (NV * 16) tile: rows [row0, row0 + rows) of the output (rows <= MR; A holds MR readable
/// rows), column blocks [block0, block0 + NV).
template <bool kBytes, int MR, int NV>
FXNN_VNNI void tile(const uint8_t* a, int64_t lda_bytes, const uint8_t* b, int64_t groups, int64_t block0,
                    int64_t row0, int64_t rows, const Epilogue& e) {
  static_assert(MR <= 16 && NV <= 4, "tile larger than the named accumulators");
  const int64_t panel = groups * 64; // bytes of one block of 16 columns
  const uint8_t* bp = b + block0 * panel;
#define FXNN_DECLARE(r, v) __m512i acc_##r##_##v = _mm512_setzero_si512();
  FXNN_TILE_ALL(FXNN_DECLARE)
#undef FXNN_DECLARE
  for (int64_t g = 0; g < groups; ++g) {
    const uint8_t* bg = bp + g * 64;
    const __m512i b0 = _mm512_load_si512(bg);
    const __m512i b1 = NV > 1 ? _mm512_load_si512(bg + panel) : b0;
    const __m512i b2 = NV > 2 ? _mm512_load_si512(bg + 2 * panel) : b0;
    const __m512i b3 = NV > 3 ? _mm512_load_si512(bg + 3 * panel) : b0;
    const uint8_t* ag = a + g * 4;
#define FXNN_MULTIPLY(r, v)                                                                      \
  if constexpr (r < MR && v < NV) {                                                              \
    if constexpr (kBytes) acc_##r##_##v = _mm512_dpbusd_epi32(acc_##r##_##v, a_##r, b##v);       \
    else acc_##r##_##v = _mm512_dpwssd_epi32(acc_##r##_##v, a_##r, b##v);                        \
  }
#define FXNN_ROW(r, unused)                                                                      \
  if constexpr (r < MR) {                                                                        \
    int32_t word_##r;                                                                            \
    std::memcpy(&word_##r, ag + r * lda_bytes, 4);                                               \
    const __m512i a_##r = _mm512_set1_epi32(word_##r);                                           \
    FXNN_MULTIPLY(r, 0) FXNN_MULTIPLY(r, 1) FXNN_MULTIPLY(r, 2) FXNN_MULTIPLY(r, 3)              \
  }
    FXNN_TILE_ROWS(FXNN_ROW, 0)
#undef FXNN_ROW
#undef FXNN_MULTIPLY
  }
#define FXNN_STORE(r, v) \
  if constexpr (r < MR && v < NV) \
    if (r < rows) store16(acc_##r##_##v, row0 + r, (block0 + v) * 16, e);
  FXNN_TILE_ALL(FXNN_STORE)
#undef FXNN_STORE
}

#undef FXNN_TILE_ALL
#undef FXNN_TILE_ROWS

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
  const bool narrow = std::all_of(requant.multiplier.begin(), requant.multiplier.end(),
                                  [](int64_t m) { return m >= INT32_MIN && m <= INT32_MAX; });
  Epilogue e{requant.multiplier.data(), requant.offset.data(), _mm_cvtsi32_si128(requant.shift),
             _mm512_set1_epi64(requant.lo), _mm512_set1_epi64(requant.hi), out, b.n(), narrow};
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
