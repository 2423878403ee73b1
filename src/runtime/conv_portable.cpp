// Portable kernels of the direct convolution (conv_direct.h): 4 convolution pixels x 16 output
// channels of accumulators, each step multiplying one code of each pixel into a row of 16 packed
// weights (a loop the compiler vectorizes across the 16 channels), then the pooling in the
// accumulator domain and eq. (3). Compiled for AVX2 and baseline x86-64 (portable_clones.h).

#include <algorithm>
#include <cstdint>

#include "conv_direct.h"
#include "dtype_dispatch.h"
#include "multiversion.h"
#include "portable_clones.h"

namespace fxnn::runtime {

namespace {

constexpr int kPixels = 4; // convolution pixels per step

/// acc[r][j] = sum over the window of pixel r of A * B, for the 16 columns of `block`.
template <typename A, typename B, typename Acc>
FXNN_ALWAYS_INLINE void dot_pixels(const ConvWeights& w, int64_t in_row_bytes, const uint8_t* const* a, int64_t block,
                                   Acc (&acc)[kPixels][16]) {
  const B* wb = reinterpret_cast<const B*>(w.data()) + block * w.depth() * 16;
  const int64_t segment = w.segment();
  for (int r = 0; r < kPixels; ++r)
    for (int j = 0; j < 16; ++j) acc[r][j] = 0;
  for (int64_t s = 0; s < w.kernel(); ++s) {
    const A* a0 = reinterpret_cast<const A*>(a[0] + s * in_row_bytes);
    const A* a1 = reinterpret_cast<const A*>(a[1] + s * in_row_bytes);
    const A* a2 = reinterpret_cast<const A*>(a[2] + s * in_row_bytes);
    const A* a3 = reinterpret_cast<const A*>(a[3] + s * in_row_bytes);
    const B* bs = wb + s * segment * 16;
    for (int64_t t = 0; t < segment; ++t) {
      const B* row = bs + t * 16;
      const Acc x0 = a0[t], x1 = a1[t], x2 = a2[t], x3 = a3[t];
      for (int j = 0; j < 16; ++j) {
        const Acc b = row[j];
        acc[0][j] += x0 * b;
        acc[1][j] += x1 * b;
        acc[2][j] += x2 * b;
        acc[3][j] += x3 * b;
      }
    }
  }
}

template <typename A, typename B, typename Acc, typename Out>
FXNN_ALWAYS_INLINE void rows_typed(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                                   int64_t row1, int64_t first, int64_t last, const ChannelRequant& rq,
                                   const GemmOutput& out) {
  const int64_t pool = g.pool, pixels = pool * pool, n = w.n();
  const int64_t step_x = pool * g.stride * g.pixel_bytes, step_y = pool * g.stride * g.in_row_bytes;
  const auto offset = [&](int64_t p) {
    return (p / pool) * g.stride * g.in_row_bytes + (p % pool) * g.stride * g.pixel_bytes;
  };
  const auto origin = [&](int64_t r) { return in + (r / g.out_width) * step_y + (r % g.out_width) * step_x; };
  Out* y = static_cast<Out*>(out.data);
  const int64_t wp = g.out_width + 2 * g.out_pad;
  const auto at = [&](int64_t r) {
    return ((r / g.out_width + g.out_pad) * wp + r % g.out_width + g.out_pad) * out.ldc;
  };
  Acc acc[kPixels][16];
  const uint8_t* a[kPixels];
  if (pool == 1) {
    // kPixels stored pixels per step (the last ones repeated past row1, not stored).
    for (int64_t r = row0; r < row1; r += kPixels) {
      const int64_t count = std::min<int64_t>(kPixels, row1 - r);
      for (int64_t p = 0; p < kPixels; ++p) a[p] = origin(std::min(r + p, row1 - 1));
      for (int64_t block = first; block < last; ++block) {
        dot_pixels<A, B, Acc>(w, g.in_row_bytes, a, block, acc);
        const int64_t j0 = block * 16, columns = std::min<int64_t>(16, n - j0);
        for (int64_t p = 0; p < count; ++p)
          for (int64_t j = 0; j < columns; ++j)
            y[at(r + p) + j0 + j] = static_cast<Out>(
                requantize_folded(static_cast<int64_t>(acc[p][j]), rq.multiplier[static_cast<size_t>(j0 + j)],
                                  rq.offset[static_cast<size_t>(j0 + j)], rq.shift, rq.lo, rq.hi));
      }
    }
    return;
  }
  // One stored pixel at a time: its window's pixels kPixels at a time, max of acc ^ mask.
  Acc pooled[16];
  for (int64_t r = row0; r < row1; ++r) {
    const uint8_t* base = origin(r);
    for (int64_t block = first; block < last; ++block) {
      const int64_t j0 = block * 16, columns = std::min<int64_t>(16, n - j0);
      const int32_t* mask = rq.order_mask.data() + j0;
      for (int64_t p0 = 0; p0 < pixels; p0 += kPixels) {
        const int64_t count = std::min<int64_t>(kPixels, pixels - p0);
        for (int64_t p = 0; p < kPixels; ++p) a[p] = base + offset(p0 + std::min(p, count - 1));
        dot_pixels<A, B, Acc>(w, g.in_row_bytes, a, block, acc);
        for (int64_t p = 0; p < count; ++p)
          for (int j = 0; j < 16; ++j) {
            const Acc x = acc[p][j] ^ static_cast<Acc>(mask[j]);
            pooled[j] = p0 + p == 0 ? x : std::max(pooled[j], x);
          }
      }
      for (int64_t j = 0; j < columns; ++j)
        y[at(r) + j0 + j] = static_cast<Out>(requantize_folded(
            static_cast<int64_t>(pooled[j] ^ static_cast<Acc>(mask[j])), rq.multiplier[static_cast<size_t>(j0 + j)],
            rq.offset[static_cast<size_t>(j0 + j)], rq.shift, rq.lo, rq.hi));
    }
  }
}

template <typename A, typename B, typename Acc>
FXNN_ALWAYS_INLINE void rows_any_out(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                                     int64_t row1, int64_t first, int64_t last, const ChannelRequant& rq,
                                     const GemmOutput& out) {
  // A switch, not visit(): a lambda would be compiled once, at the baseline ISA, outside the clones.
  switch (out.type) {
    case DType::kU8: rows_typed<A, B, Acc, uint8_t>(w, g, in, row0, row1, first, last, rq, out); return;
    case DType::kI8: rows_typed<A, B, Acc, int8_t>(w, g, in, row0, row1, first, last, rq, out); return;
    case DType::kI16: rows_typed<A, B, Acc, int16_t>(w, g, in, row0, row1, first, last, rq, out); return;
    case DType::kI32: rows_typed<A, B, Acc, int32_t>(w, g, in, row0, row1, first, last, rq, out); return;
    case DType::kI64: rows_typed<A, B, Acc, int64_t>(w, g, in, row0, row1, first, last, rq, out); return;
  }
}

FXNN_PORTABLE_CLONES void rows_u8s8(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                                    int64_t row1, int64_t first, int64_t last, const ChannelRequant& rq,
                                    const GemmOutput& out) {
  rows_any_out<uint8_t, int8_t, int32_t>(w, g, in, row0, row1, first, last, rq, out);
}

FXNN_PORTABLE_CLONES void rows_s16s16(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                                      int64_t row1, int64_t first, int64_t last, const ChannelRequant& rq,
                                      const GemmOutput& out) {
  rows_any_out<int16_t, int16_t, int32_t>(w, g, in, row0, row1, first, last, rq, out);
}

FXNN_PORTABLE_CLONES void rows_wide(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0,
                                    int64_t row1, int64_t first, int64_t last, const ChannelRequant& rq,
                                    const GemmOutput& out) {
  rows_any_out<int64_t, int64_t, int64_t>(w, g, in, row0, row1, first, last, rq, out);
}

} // namespace

void conv_rows_portable(const ConvWeights& w, const ConvGeometry& g, const uint8_t* in, int64_t row0, int64_t row1,
                        int64_t first_block, int64_t last_block, const ChannelRequant& rq, const GemmOutput& out) {
  if (w.pairs()) {
    conv_rows_avx2(w, g, in, row0, row1, first_block, last_block, rq, out);
    return;
  }
  switch (w.kind()) {
    case GemmKind::kU8S8: rows_u8s8(w, g, in, row0, row1, first_block, last_block, rq, out); break;
    case GemmKind::kS16S16: rows_s16s16(w, g, in, row0, row1, first_block, last_block, rq, out); break;
    case GemmKind::kWide: rows_wide(w, g, in, row0, row1, first_block, last_block, rq, out); break;
  }
}

} // namespace fxnn::runtime
