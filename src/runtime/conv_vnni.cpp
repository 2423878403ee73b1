// AVX-512 VNNI tiles of the direct convolution (conv_direct.h): MR convolution pixels x NV vectors
// of 16 output channels in registers, A words broadcast from the padded input in place (one
// pointer per pixel, advanced by one input row per kernel row), vpdpbusd or vpdpwssd, and an
// epilogue that max-pools groups of P = pool^2 pixels in the accumulator domain before eq. (3).
// Compiled with target attributes; only called after isa_supported(Isa::kAvx512Vnni).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "conv_direct.h"
#include "vnni_epilogue.h"

#if FXNN_HAVE_VNNI_KERNELS

namespace fxnn::runtime {

namespace {

/// The operands of one tile.
struct ConvTile {
  const uint8_t* a[16]; // window origins (padded input) of the MR convolution pixels
  uint8_t* out[16];     // output rows of the MR / P stored pixels
  int64_t stored;       // valid stored pixels: the others read valid memory, their stores are skipped
  int64_t segments;     // kernel rows
  int64_t seg_groups;   // 4-byte groups per segment
  int64_t in_row_bytes; // one input row: the step from one kernel row to the next
  const uint8_t* b;
  int64_t panel; // bytes of one block of 16 columns
};

// Named accumulators, as in gemm_vnni.cpp: rows 0..15, column vectors 0..3.
// Four rows per line, by hand: clang-format reflows this macro differently on every pass.
// clang-format off
#define FXNN_TILE_ROWS(X, v) \
  X(0, v) X(1, v) X(2, v) X(3, v) \
  X(4, v) X(5, v) X(6, v) X(7, v) \
  X(8, v) X(9, v) X(10, v) X(11, v) \
  X(12, v) X(13, v) X(14, v) X(15, v)
// clang-format on
#define FXNN_TILE_ALL(X) FXNN_TILE_ROWS(X, 0) FXNN_TILE_ROWS(X, 1) FXNN_TILE_ROWS(X, 2) FXNN_TILE_ROWS(X, 3)

template <bool kBytes, int MR, int NV, int P>
FXNN_VNNI void conv_tile(const ConvTile& t, int64_t block0, const VnniEpilogue& e) {
  static_assert(MR <= 16 && NV <= 4 && MR % P == 0, "tile larger than the named accumulators");
  const uint8_t* bp = t.b + block0 * t.panel;
#define FXNN_DECLARE(r, v) __m512i acc_##r##_##v = _mm512_setzero_si512();
  FXNN_TILE_ALL(FXNN_DECLARE)
#undef FXNN_DECLARE
  for (int64_t s = 0; s < t.segments; ++s) {
    const int64_t down = s * t.in_row_bytes;
#define FXNN_POINTER(r, unused) const uint8_t* ap_##r = r < MR ? t.a[r] + down : nullptr;
    FXNN_TILE_ROWS(FXNN_POINTER, 0)
#undef FXNN_POINTER
    const uint8_t* bs = bp + s * t.seg_groups * 64;
    for (int64_t g = 0; g < t.seg_groups; ++g) {
      const uint8_t* bg = bs + g * 64;
      const __m512i b0 = _mm512_load_si512(bg);
      const __m512i b1 = NV > 1 ? _mm512_load_si512(bg + t.panel) : b0;
      const __m512i b2 = NV > 2 ? _mm512_load_si512(bg + 2 * t.panel) : b0;
      const __m512i b3 = NV > 3 ? _mm512_load_si512(bg + 3 * t.panel) : b0;
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
    std::memcpy(&word_##r, ap_##r + g * 4, 4);                                      \
    const __m512i a_##r = _mm512_set1_epi32(word_##r);                              \
    FXNN_MULTIPLY(r, 0) FXNN_MULTIPLY(r, 1) FXNN_MULTIPLY(r, 2) FXNN_MULTIPLY(r, 3) \
  }
      FXNN_TILE_ROWS(FXNN_ROW, 0)
#undef FXNN_ROW
#undef FXNN_MULTIPLY
    }
  }
  // eq. (3)'s parameters once per column vector, for all the rows of the tile.
  const Columns16 col_0 = load_columns16(block0 * 16, e);
  const Columns16 col_1 = NV > 1 ? load_columns16((block0 + 1) * 16, e) : col_0;
  const Columns16 col_2 = NV > 2 ? load_columns16((block0 + 2) * 16, e) : col_0;
  const Columns16 col_3 = NV > 3 ? load_columns16((block0 + 3) * 16, e) : col_0;
  if constexpr (P == 1) {
#define FXNN_STORE(r, v)          \
  if constexpr (r < MR && v < NV) \
    if (r < t.stored) store16_at(acc_##r##_##v, t.out[r], col_##v, e);
    FXNN_TILE_ALL(FXNN_STORE)
#undef FXNN_STORE
  } else {
    // Max over each group of P pixels of acc ^ mask, then ^ mask again (ChannelRequant::order_mask).
    const __m512i mask_0 = _mm512_loadu_si512(e.order_mask + block0 * 16);
    const __m512i mask_1 = NV > 1 ? _mm512_loadu_si512(e.order_mask + (block0 + 1) * 16) : mask_0;
    const __m512i mask_2 = NV > 2 ? _mm512_loadu_si512(e.order_mask + (block0 + 2) * 16) : mask_0;
    const __m512i mask_3 = NV > 3 ? _mm512_loadu_si512(e.order_mask + (block0 + 3) * 16) : mask_0;
    __m512i pool_0 = mask_0, pool_1 = mask_0, pool_2 = mask_0, pool_3 = mask_0;
#define FXNN_POOL(r, v)                                                                                 \
  if constexpr (r < MR && v < NV) {                                                                     \
    const __m512i x = _mm512_xor_si512(acc_##r##_##v, mask_##v);                                        \
    if constexpr (r % P == 0)                                                                           \
      pool_##v = x;                                                                                     \
    else                                                                                                \
      pool_##v = _mm512_max_epi32(pool_##v, x);                                                         \
    if constexpr (r % P == P - 1)                                                                       \
      if (r / P < t.stored) store16_at(_mm512_xor_si512(pool_##v, mask_##v), t.out[r / P], col_##v, e); \
  }
    FXNN_TILE_ALL(FXNN_POOL)
#undef FXNN_POOL
  }
}

#undef FXNN_TILE_ALL
#undef FXNN_TILE_ROWS

using ConvTileFn = void (*)(const ConvTile&, int64_t, const VnniEpilogue&);

/// Tiles of P-pixel groups: MR rows for NV column vectors, and the same MR for fewer vectors (the
/// last column blocks of a pass).
struct TileChoice {
  int mr = 0;
  ConvTileFn fn[5] = {}; // by vectors 1..NV
};

/// MR for P-pixel groups and NV column vectors: the largest multiple of P with MR * NV accumulators +
/// NV weights + 1 broadcast <= 32 registers and MR <= 16; without pooling, the tiles of the GEMM
/// (6 x 4, 8 x 3, 12 x 2, 16 x 1), which leave registers for the row pointers. 0: none.
template <int P, int NV>
constexpr int tile_rows() {
  if (P == 1) return NV == 4 ? 6 : NV == 3 ? 8 : NV == 2 ? 12 : 16;
  int mr = 0;
  for (int m = P; m <= 16; m += P)
    if (m * NV + NV + 1 <= 32) mr = m;
  return mr;
}

template <bool kBytes, int P, int NV>
TileChoice choice() {
  constexpr int mr = tile_rows<P, NV>();
  TileChoice c;
  if constexpr (mr > 0) {
    c.mr = mr;
    c.fn[1] = conv_tile<kBytes, mr, 1, P>;
    if constexpr (NV >= 2) c.fn[2] = conv_tile<kBytes, mr, 2, P>;
    if constexpr (NV >= 3) c.fn[3] = conv_tile<kBytes, mr, 3, P>;
    if constexpr (NV >= 4) c.fn[4] = conv_tile<kBytes, mr, 4, P>;
  }
  return c;
}

template <bool kBytes, int P>
TileChoice choose_p(int nv) {
  switch (nv) {
    case 1: return choice<kBytes, P, 1>();
    case 2: return choice<kBytes, P, 2>();
    case 3: return choice<kBytes, P, 3>();
    default: return choice<kBytes, P, 4>();
  }
}

template <bool kBytes>
TileChoice choose(int64_t pixels, int nv) {
  switch (pixels) {
    case 1: return choose_p<kBytes, 1>(nv);
    case 4: return choose_p<kBytes, 4>(nv);
    case 9: return choose_p<kBytes, 9>(std::min(nv, 3));
    default: return choose_p<kBytes, 16>(1);
  }
}

template <bool kBytes>
FXNN_VNNI void rows_impl(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                         int64_t first, int64_t last, const VnniEpilogue& e) {
  const int64_t pixels = g.pool * g.pool, element = kBytes ? 1 : 2;
  const int nv = static_cast<int>(std::min<int64_t>(4, last - first));
  const TileChoice tc = choose<kBytes>(pixels, nv);
  int nv_tile = nv;
  while (!tc.fn[nv_tile]) --nv_tile;       // 3 x 3 pools: at most 3 vectors
  const int64_t per_tile = tc.mr / pixels; // stored pixels per tile
  ConvTile t;
  t.segments = w.kernel();
  t.seg_groups = w.segment() * element / 4;
  t.in_row_bytes = g.in_row_bytes;
  t.b = w.data();
  t.panel = w.depth() * element / 4 * 64;
  // Offsets of the pixels of a pool window from its first pixel; steps between stored pixels.
  int64_t window[16];
  for (int64_t dy = 0; dy < g.pool; ++dy)
    for (int64_t dx = 0; dx < g.pool; ++dx)
      window[dy * g.pool + dx] = dy * g.stride * g.in_row_bytes + dx * g.stride * g.pixel_bytes;
  const int64_t step_x = g.pool * g.stride * g.pixel_bytes, step_y = g.pool * g.stride * g.in_row_bytes;
  const int64_t out_row = e.out.ldc * e.out_size, out_pixels_per_row = g.out_width + 2 * g.out_pad;
  auto* out = static_cast<uint8_t*>(e.out.data);
  int64_t y = row0 / g.out_width, x = row0 % g.out_width;
  for (int64_t r = row0; r < row1; r += per_tile) {
    t.stored = std::min(per_tile, row1 - r);
    for (int64_t s = 0; s < per_tile; ++s) {
      // Pixels past row1 repeat the last stored one: valid reads, and their stores are skipped.
      const uint8_t* origin = in + y * step_y + x * step_x;
      for (int64_t p = 0; p < pixels; ++p) t.a[s * pixels + p] = origin + window[p];
      t.out[s] = out + ((y + g.out_pad) * out_pixels_per_row + x + g.out_pad) * out_row;
      if (r + s + 1 < row1 && ++x == g.out_width) x = 0, ++y;
    }
    for (int64_t b0 = first; b0 < last; b0 += nv_tile) tc.fn[std::min<int64_t>(nv_tile, last - b0)](t, b0, e);
  }
}

FXNN_VNNI void conv_vnni_impl(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                              int64_t row1, int64_t first_block, int64_t last_block, const ChannelRequant& rq,
                              const GemmOutput& out) {
  const VnniEpilogue e = make_epilogue(rq, out, w.n());
  if (w.kind() == GemmKind::kU8S8)
    rows_impl<true>(w, g, in, row0, row1, first_block, last_block, e);
  else
    rows_impl<false>(w, g, in, row0, row1, first_block, last_block, e);
}

} // namespace

void conv_rows_vnni(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                    int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  if (w.kind() == GemmKind::kWide) throw std::logic_error("conv_rows_vnni: no VNNI kernel for 64-bit accumulators");
  if (!conv_pool_supported(Isa::kAvx512Vnni, g.pool)) throw std::logic_error("conv_rows_vnni: unsupported pool window");
  conv_vnni_impl(w, g, in, row0, row1, first_block, last_block, rq, out);
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
void conv_rows_vnni(const ConvWeights&, const ConvGeometry&, const uint8_t*, int64_t, int64_t, int64_t, int64_t,
                    const ChannelRequant&, const GemmOutput&) {
  throw std::logic_error("conv_rows_vnni: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
