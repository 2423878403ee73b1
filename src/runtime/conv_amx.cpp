// AMX tiles of the u8s8 direct convolution (conv_direct.h): tdpbusd multiplies a tile of MT
// convolution pixels x K codes (A, read in place from the padded NHWC input: MT consecutive pixels
// of one output row lie a constant stride apart) by K codes x 16 output channels (B, the VNNI
// packing of ConvWeights, whose 64-byte groups are exactly AMX's B rows) into MT x 16 int32
// accumulators. Each step keeps 2 pixel tiles x 2 column blocks of accumulators in the tile
// registers (C: tmm0-3, A: tmm4-5, B: tmm6-7), then stores them to a scratch block and runs the VNNI
// epilogue of eq. (3) on it, max-pooling 2 x 2 windows in the accumulator domain first when a pool
// is fused (the two pixel tiles are then the two convolution rows of one pooled row).
// The split form (ConvWeights::split_bytes) runs 16-bit weights on u8 input codes: two byte planes
// W_lo, W_hi of one column block per step (tmm0-1 and tmm2-3: lo and hi sums of the two pixel
// tiles), acc = acc_lo + 256 acc_hi in 32-bit wrap-around arithmetic, exact because acc fits 32 bits.
// Exactness: the products and sums are those of the VNNI tiles (the same zero-padded packing),
// and the epilogue is theirs. Compiled with target attributes; only called after
// isa_supported(Isa::kAvx512Amx).

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "conv_direct.h"
#include "vnni_epilogue.h"

namespace fxnn::runtime {

bool conv_amx_supported(const ConvWeights& w, const ConvGeometry& g) {
  if (w.isa() != Isa::kAvx512Amx || (w.kind() != GemmKind::kU8S8 && !w.split())) return false;
  if (g.pool != 1 && g.pool != 2) return false;
  // The split form's input was stored as u8 on the word of conv_amx_split, which asks for an even
  // divisor whether or not a pool is fused.
  return amx_tile_depth(w.segment()) >= 16 && amx_tile_pixels(g.out_width * g.pool, g.pool == 2 || w.split()) > 0;
}

} // namespace fxnn::runtime

#if FXNN_HAVE_VNNI_KERNELS

#define FXNN_AMX __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,amx-tile,amx-int8")))

namespace fxnn::runtime {

namespace {

constexpr int64_t kMaxTileRows = 16; // rows of a tile register

/// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

/// What one call needs, fixed for all its steps.
struct AmxPlan {
  int64_t mt = 0;     // pixels per A tile
  int64_t chunk = 0;  // K bytes per tdpbusd
  int64_t stored = 0; // stored pixels per run: mt, or mt / 2 when a 2 x 2 pool is fused
  int64_t panel = 0;  // bytes of one block of 16 columns of B
  int64_t seg_groups = 0;
};

/// Accumulates one step: tiles 0-3 += A(4) x B(6), A(4) x B(7), A(5) x B(6), A(5) x B(7) over every
/// kernel row and K chunk. `a0`, `a1`: the first pixel of each pixel tile; `b0`: the panel of B(6);
/// B(7) lies `second` bytes further (the next column block, or the split form's W_hi plane) and is
/// used when `two`.
FXNN_AMX void accumulate(const ConvWeights& w, const ConvGeometry& g, const AmxPlan& p, const uint8_t* a0,
                         const uint8_t* a1, const uint8_t* b0, int64_t second, bool two) {
  const int64_t a_stride = g.stride * g.pixel_bytes, chunks = w.segment() / p.chunk;
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t s = 0; s < w.kernel(); ++s) {
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t a_off = s * g.in_row_bytes + c * p.chunk;
      const uint8_t* b = b0 + (s * p.seg_groups + c * p.chunk / 4) * 64;
      _tile_loadd(4, a0 + a_off, a_stride);
      _tile_loadd(5, a1 + a_off, a_stride);
      _tile_loadd(6, b, 64);
      _tile_dpbusd(0, 4, 6);
      _tile_dpbusd(2, 5, 6);
      if (two) {
        _tile_loadd(7, b + second, 64);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(3, 5, 7);
      }
    }
  }
}

/// The accumulators of one step: [pixel tile * 2 + column block][pixel][16 columns].
struct Scratch {
  alignas(64) int32_t c[4][kMaxTileRows * 16];
};

FXNN_AMX void store_tiles(Scratch& sc, bool two) {
  _tile_stored(0, sc.c[0], 64);
  _tile_stored(2, sc.c[2], 64);
  if (two) {
    _tile_stored(1, sc.c[1], 64);
    _tile_stored(3, sc.c[3], 64);
  }
}

/// The split form's sums, acc = acc_lo + 256 acc_hi (wrapping: the true acc fits 32 bits), into
/// sc.c[0] and sc.c[2], where the epilogue reads one column block's pixel tiles.
FXNN_AMX void store_split_tiles(Scratch& sc, int64_t pixels) {
  _tile_stored(0, sc.c[0], 64);
  _tile_stored(1, sc.c[1], 64);
  _tile_stored(2, sc.c[2], 64);
  _tile_stored(3, sc.c[3], 64);
  for (int t = 0; t < 4; t += 2)
    for (int64_t i = 0; i < pixels * 16; i += 16) {
      const __m512i lo = _mm512_load_si512(sc.c[t] + i), hi = _mm512_load_si512(sc.c[t + 1] + i);
      _mm512_store_si512(sc.c[t] + i, _mm512_add_epi32(lo, _mm512_slli_epi32(hi, 8)));
    }
}

FXNN_AMX void rows_amx(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                       int64_t first, int64_t last, const VnniEpilogue& e) {
  AmxPlan p;
  const bool pooled = g.pool == 2;
  p.mt = amx_tile_pixels(g.out_width * g.pool, pooled || w.split());
  p.chunk = amx_tile_depth(w.segment());
  p.stored = pooled ? p.mt / 2 : p.mt;
  p.panel = w.depth() * 16;
  p.seg_groups = w.segment() / 4;

  TileConfig cfg;
  for (int t = 0; t < 4; ++t) cfg.rows[t] = static_cast<uint8_t>(p.mt), cfg.colsb[t] = 64;
  for (int t = 4; t < 6; ++t) cfg.rows[t] = static_cast<uint8_t>(p.mt), cfg.colsb[t] = static_cast<uint16_t>(p.chunk);
  for (int t = 6; t < 8; ++t) cfg.rows[t] = static_cast<uint8_t>(p.chunk / 4), cfg.colsb[t] = 64;
  _tile_loadconfig(&cfg);

  const int64_t runs_per_row = g.out_width / p.stored;
  const int64_t out_row = e.out.ldc * e.out_size, out_pixels_per_row = g.out_width + 2 * g.out_pad;
  auto* out = static_cast<uint8_t*>(e.out.data);
  // The window origin of convolution pixel (cy, cx) in the padded input.
  const auto origin = [&](int64_t cy, int64_t cx) {
    return in + cy * g.stride * g.in_row_bytes + cx * g.stride * g.pixel_bytes;
  };
  const auto store_row = [&](int64_t r) {
    const int64_t y = r / g.out_width, x = r % g.out_width;
    return out + ((y + g.out_pad) * out_pixels_per_row + x + g.out_pad) * out_row;
  };
  Scratch sc;
  // Runs of p.stored stored pixels, all in one stored row; a step takes two runs (no pool) or one
  // run's two convolution rows (pool). Pixels outside [row0, row1) are computed and not stored.
  const int64_t q_end = (row1 - 1) / p.stored + 1;
  for (int64_t q = row0 / p.stored; q < q_end; q += pooled ? 1 : 2) {
    const int64_t y = q / runs_per_row, x0 = (q % runs_per_row) * p.stored;
    const uint8_t *a0 = nullptr, *a1 = nullptr;
    if (pooled) {
      a0 = origin(2 * y, 2 * x0);
      a1 = origin(2 * y + 1, 2 * x0);
    } else {
      const int64_t q1 = std::min(q + 1, q_end - 1); // the last odd run is computed twice, stored once
      a0 = origin(y, x0);
      a1 = origin(q1 / runs_per_row, (q1 % runs_per_row) * p.stored);
    }
    for (int64_t b = first; b < last; b += w.split() ? 1 : 2) {
      const bool two = !w.split() && b + 1 < last;
      if (w.split()) {
        // The split form: tiles 0, 2 hold A x W_lo and tiles 1, 3 A x W_hi of column block b.
        accumulate(w, g, p, a0, a1, w.data() + b * p.panel, w.n_padded() * w.depth(), true);
        store_split_tiles(sc, p.mt);
      } else {
        accumulate(w, g, p, a0, a1, w.data() + b * p.panel, p.panel, two);
        store_tiles(sc, two);
      }
      for (int64_t v = 0; v < (two ? 2 : 1); ++v) {
        const Columns16 cols = load_columns16((b + v) * 16, e);
        if (pooled) {
          const __m512i mask = _mm512_loadu_si512(e.order_mask + (b + v) * 16);
          for (int64_t j = 0; j < p.stored; ++j) {
            const int64_t r = q * p.stored + j;
            if (r < row0 || r >= row1) continue;
            const int32_t* top = sc.c[v] + 2 * j * 16;
            const int32_t* bottom = sc.c[2 + v] + 2 * j * 16;
            __m512i m = _mm512_xor_si512(_mm512_load_si512(top), mask);
            m = _mm512_max_epi32(m, _mm512_xor_si512(_mm512_load_si512(top + 16), mask));
            m = _mm512_max_epi32(m, _mm512_xor_si512(_mm512_load_si512(bottom), mask));
            m = _mm512_max_epi32(m, _mm512_xor_si512(_mm512_load_si512(bottom + 16), mask));
            store16_at(_mm512_xor_si512(m, mask), store_row(r), cols, e);
          }
        } else {
          for (int64_t t = 0; t < 2; ++t) {
            const int64_t run = q + t;
            if (run >= q_end) break;
            for (int64_t i = 0; i < p.stored; ++i) {
              const int64_t r = run * p.stored + i;
              if (r < row0 || r >= row1) continue;
              store16_at(_mm512_load_si512(sc.c[2 * t + v] + i * 16), store_row(r), cols, e);
            }
          }
        }
      }
    }
  }
  _tile_release();
}

FXNN_AMX void conv_amx_impl(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                            int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  rows_amx(w, g, in, row0, row1, first_block, last_block, make_epilogue(rq, out, w.n()));
}

} // namespace

void conv_rows_amx(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                   int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  if (!conv_amx_supported(w, g)) throw std::logic_error("conv_rows_amx: a convolution the AMX tiles do not take");
  conv_amx_impl(w, g, in, row0, row1, first_block, last_block, rq, out);
}

} // namespace fxnn::runtime

#else

namespace fxnn::runtime {
void conv_rows_amx(const ConvWeights&, const ConvGeometry&, const uint8_t*, int64_t, int64_t, int64_t, int64_t,
                   const ChannelRequant&, const GemmOutput&) {
  throw std::logic_error("conv_rows_amx: not built for this architecture");
}
} // namespace fxnn::runtime

#endif
