// Portable kernels of gemm_requantize: plain loops over a column-major B, compiled for AVX2 and
// baseline x86-64 (portable_clones.h) so that the dot products vectorize wherever the binary runs.

#include <algorithm>

#include "dtype_dispatch.h"
#include "gemm.h"
#include "multiversion.h"
#include "portable_clones.h"

namespace fxnn::runtime {

namespace {

template <typename OutT>
FXNN_ALWAYS_INLINE void store(const GemmOutput& out, int64_t i, int64_t j, int64_t value) {
  static_cast<OutT*>(out.data)[i * out.ldc + j] = static_cast<OutT>(value);
}

/// Rows x columns of dot products of length k (a multiple of the group), accumulated in Acc.
template <typename A, typename B, typename Acc>
FXNN_ALWAYS_INLINE void dot_rows(const GemmWeights& b, const A* a, int64_t rows, int64_t lda, const ChannelRequant& rq,
                                 const GemmOutput& out, int64_t j0, int64_t j1) {
  const B* w = reinterpret_cast<const B*>(b.data());
  const int64_t k = b.k_padded();
  for (int64_t i = 0; i < rows; ++i) {
    const A* row = a + i * lda;
    for (int64_t j = j0; j < j1; ++j) {
      const B* column = w + j * k;
      Acc acc = 0;
      for (int64_t t = 0; t < k; ++t) acc += static_cast<Acc>(row[t]) * static_cast<Acc>(column[t]);
      const int64_t v = requantize_folded(static_cast<int64_t>(acc), rq.multiplier[static_cast<size_t>(j)],
                                          rq.offset[static_cast<size_t>(j)], rq.shift, rq.lo, rq.hi);
      visit(out.type, [&](auto tag) { store<decltype(tag)>(out, i, j, v); });
    }
  }
}

FXNN_PORTABLE_CLONES void rows_u8s8(const GemmWeights& b, const uint8_t* a, int64_t rows, int64_t lda,
                                    const ChannelRequant& rq, const GemmOutput& out, int64_t j0, int64_t j1) {
  dot_rows<uint8_t, int8_t, int32_t>(b, a, rows, lda, rq, out, j0, j1);
}

FXNN_PORTABLE_CLONES void rows_s16s16(const GemmWeights& b, const int16_t* a, int64_t rows, int64_t lda,
                                      const ChannelRequant& rq, const GemmOutput& out, int64_t j0, int64_t j1) {
  dot_rows<int16_t, int16_t, int32_t>(b, a, rows, lda, rq, out, j0, j1);
}

FXNN_PORTABLE_CLONES void rows_wide(const GemmWeights& b, const int64_t* a, int64_t rows, int64_t lda,
                                    const ChannelRequant& rq, const GemmOutput& out, int64_t j0, int64_t j1) {
  dot_rows<int64_t, int64_t, int64_t>(b, a, rows, lda, rq, out, j0, j1);
}

} // namespace

void gemm_portable(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                   const GemmOutput& out, int64_t first_block, int64_t last_block) {
  const int64_t j0 = first_block * 16, j1 = std::min(b.n(), last_block * 16);
  switch (b.kind()) {
    case GemmKind::kU8S8: rows_u8s8(b, static_cast<const uint8_t*>(a), rows, lda, requant, out, j0, j1); break;
    case GemmKind::kS16S16: rows_s16s16(b, static_cast<const int16_t*>(a), rows, lda, requant, out, j0, j1); break;
    case GemmKind::kWide: rows_wide(b, static_cast<const int64_t*>(a), rows, lda, requant, out, j0, j1); break;
  }
}

} // namespace fxnn::runtime
