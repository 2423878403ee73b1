#pragma once
// eq. (3) of docs/fixed-point-network.md on a run of int32 dot products of one output row, for the
// narrow-accumulator kernels: one plain loop per output type, inlined into each caller so that it
// vectorizes at the caller's instruction set.

#include <cstdint>

#include "channel_requant.h"
#include "gemm.h"

namespace fxnn::runtime {

template <typename Out>
FXNN_ALWAYS_INLINE void requantize_run(const int32_t* sums, int64_t count, const ChannelRequant& rq, int64_t col0,
                                       Out* dst) {
  const int64_t* m = rq.multiplier.data() + col0;
  const int64_t* o = rq.offset.data() + col0;
  for (int64_t j = 0; j < count; ++j)
    dst[j] = static_cast<Out>(requantize_folded(sums[j], m[j], o[j], rq.shift, rq.lo, rq.hi));
}

/// Columns [col0, col0 + count) of output row `row`.
FXNN_ALWAYS_INLINE void requantize_row(const int32_t* sums, int64_t count, const ChannelRequant& rq, int64_t col0,
                                       const GemmOutput& out, int64_t row) {
  const int64_t at = row * out.ldc + col0;
  switch (out.type) {
    case DType::kU8: requantize_run(sums, count, rq, col0, static_cast<uint8_t*>(out.data) + at); return;
    case DType::kI8: requantize_run(sums, count, rq, col0, static_cast<int8_t*>(out.data) + at); return;
    case DType::kI16: requantize_run(sums, count, rq, col0, static_cast<int16_t*>(out.data) + at); return;
    case DType::kI32: requantize_run(sums, count, rq, col0, static_cast<int32_t*>(out.data) + at); return;
    case DType::kI64: requantize_run(sums, count, rq, col0, static_cast<int64_t*>(out.data) + at); return;
  }
}

} // namespace fxnn::runtime
