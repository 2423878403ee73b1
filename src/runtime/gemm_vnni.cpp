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
#include "vnni_epilogue.h"

#if FXNN_HAVE_VNNI_KERNELS

namespace fxnn::runtime {

namespace {

using Epilogue = VnniEpilogue;

/// Requantizes 16 accumulators of the columns `col` and stores the valid ones of row `row`.
FXNN_VNNI_INLINE void store16(__m512i acc, int64_t row, const Columns16& col, const Epilogue& e) {
  store16_at(acc, static_cast<uint8_t*>(e.out.data) + row * e.out.ldc * e.out_size, col, e);
}

// The accumulators of a tile are named variables, not an array: GCC keeps an array of vectors in
// memory even when every index is a constant, and a tile is only fast with all of them in registers.
// X-macros spell out rows 0..15 and column vectors 0..3; `if constexpr` keeps those of the tile.
// Four rows per line, by hand: clang-format reflows this macro differently on every pass.
// clang-format off
#define FXNN_TILE_ROWS(X, v) \
  X(0, v) X(1, v) X(2, v) X(3, v) \
  X(4, v) X(5, v) X(6, v) X(7, v) \
  X(8, v) X(9, v) X(10, v) X(11, v) \
  X(12, v) X(13, v) X(14, v) X(15, v)
// clang-format on
#define FXNN_TILE_ALL(X) FXNN_TILE_ROWS(X, 0) FXNN_TILE_ROWS(X, 1) FXNN_TILE_ROWS(X, 2) FXNN_TILE_ROWS(X, 3)

/// One MR x (NV * 16) tile: rows [row0, row0 + rows) of the output (rows == MR: run() picks the
/// tile by the rows left), column blocks [block0, block0 + NV).
template <bool kBytes, int MR, int NV>
FXNN_VNNI void tile(const uint8_t* a, int64_t lda_bytes, const uint8_t* b, int64_t groups, int64_t block0, int64_t row0,
                    int64_t rows, const Epilogue& e) {
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
#define FXNN_MULTIPLY(r, v)                                            \
  if constexpr (r < MR && v < NV) {                                    \
    if constexpr (kBytes)                                              \
      acc_##r##_##v = _mm512_dpbusd_epi32(acc_##r##_##v, a_##r, b##v); \
    else                                                               \
      acc_##r##_##v = _mm512_dpwssd_epi32(acc_##r##_##v, a_##r, b##v); \
  }
#define FXNN_ROW(r, unused)                                                         \
  if constexpr (r < MR) {                                                           \
    int32_t word_##r;                                                               \
    std::memcpy(&word_##r, ag + r * lda_bytes, 4);                                  \
    const __m512i a_##r = _mm512_set1_epi32(word_##r);                              \
    FXNN_MULTIPLY(r, 0) FXNN_MULTIPLY(r, 1) FXNN_MULTIPLY(r, 2) FXNN_MULTIPLY(r, 3) \
  }
    FXNN_TILE_ROWS(FXNN_ROW, 0)
#undef FXNN_ROW
#undef FXNN_MULTIPLY
  }
  const Columns16 col_0 = load_columns16(block0 * 16, e);
  const Columns16 col_1 = NV > 1 ? load_columns16((block0 + 1) * 16, e) : col_0;
  const Columns16 col_2 = NV > 2 ? load_columns16((block0 + 2) * 16, e) : col_0;
  const Columns16 col_3 = NV > 3 ? load_columns16((block0 + 3) * 16, e) : col_0;
#define FXNN_STORE(r, v)          \
  if constexpr (r < MR && v < NV) \
    if (r < rows) store16(acc_##r##_##v, row0 + r, col_##v, e);
  FXNN_TILE_ALL(FXNN_STORE)
#undef FXNN_STORE
}

#undef FXNN_TILE_ALL
#undef FXNN_TILE_ROWS

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int64_t, const Epilogue&);

/// Tile shapes: NV vectors of columns with as many rows as the 32 vector registers allow
/// (MR * NV accumulators + NV weights + 1 broadcast), and tiles of 1 to 4 rows for the last rows
/// (a batch of one sample, the remainder of a row block), so that no tile reads rows beyond A.
template <bool kBytes>
struct Tiles {
  int mr;
  TileFn fn[5];       // by NV = 1..4 (index 0 unused)
  TileFn small[5][5]; // [rows 1..4][NV 1..4]
};

template <bool kBytes, int MR>
void fill_small(Tiles<kBytes>& t) {
  t.small[MR][1] = tile<kBytes, MR, 1>;
  t.small[MR][2] = tile<kBytes, MR, 2>;
  t.small[MR][3] = tile<kBytes, MR, 3>;
  t.small[MR][4] = tile<kBytes, MR, 4>;
}

template <bool kBytes, int MR>
Tiles<kBytes> tiles_of() {
  Tiles<kBytes> t{MR, {nullptr, tile<kBytes, MR, 1>, nullptr, nullptr, nullptr}, {}};
  if constexpr (MR * 2 + 3 <= 32) t.fn[2] = tile<kBytes, MR, 2>;
  if constexpr (MR * 3 + 4 <= 32) t.fn[3] = tile<kBytes, MR, 3>;
  if constexpr (MR * 4 + 5 <= 32) t.fn[4] = tile<kBytes, MR, 4>;
  fill_small<kBytes, 1>(t);
  fill_small<kBytes, 2>(t);
  fill_small<kBytes, 3>(t);
  fill_small<kBytes, 4>(t);
  return t;
}

template <bool kBytes>
const Tiles<kBytes>& tiles_for(int64_t blocks) {
  static const Tiles<kBytes> t6 = tiles_of<kBytes, 6>(), t8 = tiles_of<kBytes, 8>(), t12 = tiles_of<kBytes, 12>(),
                             t16 = tiles_of<kBytes, 16>();
  if (blocks >= 4) return t6;
  if (blocks == 3) return t8;
  if (blocks == 2) return t12;
  return t16;
}

template <bool kBytes>
void run(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda_bytes, const Epilogue& e, int64_t first,
         int64_t last) {
  const int64_t blocks = last - first;
  const int64_t groups = b.k_padded() * (kBytes ? 1 : 2) / 4;
  const Tiles<kBytes>& t = tiles_for<kBytes>(blocks);
  const int nv_max = static_cast<int>(std::min<int64_t>(4, blocks));
  // Column passes outside, row tiles inside: a pass's panel of B (k x 64 codes) stays in the cache
  // for all the rows (a chunk of samples), which are few and re-read from L1/L2.
  for (int64_t block0 = first; block0 < last; block0 += nv_max) {
    const int nv = static_cast<int>(std::min<int64_t>(nv_max, last - block0));
    for (int64_t row0 = 0; row0 < rows;) {
      const int64_t count = std::min<int64_t>(t.mr, rows - row0);
      // A full tile, or the last rows in tiles of at most 4 rows (each reads only its own rows).
      const int64_t step = count == t.mr ? count : std::min<int64_t>(count, 4);
      const TileFn fn = count == t.mr ? t.fn[nv] : t.small[step][nv];
      fn(a + row0 * lda_bytes, lda_bytes, b.data(), groups, block0, row0, step, e);
      row0 += step;
    }
  }
}

FXNN_VNNI void gemm_vnni_impl(const GemmWeights& b, const void* a, int64_t rows, int64_t lda,
                              const ChannelRequant& requant, const GemmOutput& out, int64_t first, int64_t last) {
  const Epilogue e = make_epilogue(requant, out, b.n());
  const auto* bytes = static_cast<const uint8_t*>(a);
  if (b.kind() == GemmKind::kU8S8)
    run<true>(b, bytes, rows, lda, e, first, last);
  else
    run<false>(b, bytes, rows, lda * 2, e, first, last);
}

} // namespace

void gemm_vnni(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
               const GemmOutput& out, int64_t first, int64_t last) {
  if (b.kind() == GemmKind::kWide) throw std::logic_error("gemm_vnni: no VNNI kernel for 64-bit accumulators");
  if (static_cast<int64_t>(requant.multiplier.size()) < b.n_padded())
    throw std::logic_error("gemm_vnni: requantization prepared for fewer channels than the packed weights");
  gemm_vnni_impl(b, a, rows, lda, requant, out, first, last);
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
void gemm_vnni(const GemmWeights&, const void*, int64_t, int64_t, const ChannelRequant&, const GemmOutput&, int64_t,
               int64_t) {
  throw std::logic_error("gemm_vnni: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
