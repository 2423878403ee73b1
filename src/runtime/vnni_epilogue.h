#pragma once
// eq. (3) of docs/fixed-point-network.md on 16 int32 accumulators of the AVX-512 kernels (the GEMM
// of gemm_vnni.cpp and the direct convolution of conv_vnni.cpp): 8 int64 lanes at a time
// (vpmuldq or vpmullq, vpsraq, clamp) and a masked narrowing store. Only included by translation
// units whose functions carry the FXNN_VNNI target attribute; they run after
// isa_supported(Isa::kAvx512Vnni).

#include <algorithm>
#include <cstdint>

#include "channel_requant.h"
#include "gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define FXNN_HAVE_VNNI_KERNELS 1
#include <immintrin.h>

// GCC 12 reports the _mm512_undefined_* placeholders inside its own intrinsics as maybe-uninitialized
// (a known false positive of avx512fintrin.h); nothing of these files is.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define FXNN_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define FXNN_VNNI_INLINE inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))

namespace fxnn::runtime {

struct VnniEpilogue {
  const int64_t* multiplier;
  const int64_t* offset;
  const int32_t* order_mask; // ChannelRequant::order_mask
  __m128i shift;
  __m512i lo, hi;
  GemmOutput out;
  int64_t out_size;        // bytes per output element
  int64_t n;               // valid columns
  bool narrow_multipliers; // every multiplier in [-2^31, 2^31)
};

FXNN_VNNI_INLINE VnniEpilogue make_epilogue(const ChannelRequant& rq, const GemmOutput& out, int64_t n) {
  return VnniEpilogue{rq.multiplier.data(),
                      rq.offset.data(),
                      rq.order_mask.data(),
                      _mm_cvtsi32_si128(rq.shift),
                      _mm512_set1_epi64(rq.lo),
                      _mm512_set1_epi64(rq.hi),
                      out,
                      element_size(out.type),
                      n,
                      rq.narrow_multipliers};
}

FXNN_VNNI_INLINE __m512i requant8(__m512i acc64, const int64_t* m, const int64_t* o, const VnniEpilogue& e) {
  // acc fits 32 bits; when the multipliers do too, vpmuldq (32 x 32 -> 64, one uop) gives the same
  // exact product as vpmullq (64 x 64, three uops).
  const __m512i product = e.narrow_multipliers ? _mm512_mul_epi32(acc64, _mm512_loadu_si512(m))
                                               : _mm512_mullo_epi64(acc64, _mm512_loadu_si512(m));
  __m512i v = _mm512_add_epi64(product, _mm512_loadu_si512(o));
  v = _mm512_sra_epi64(v, e.shift);
  return _mm512_min_epi64(_mm512_max_epi64(v, e.lo), e.hi);
}

/// eq. (3)'s parameters of 16 columns, loaded once for all the rows of a tile.
struct Columns16 {
  __m512i m_lo, m_hi, o_lo, o_hi;
  __mmask16 valid; // columns < e.n
  int64_t col;
};

FXNN_VNNI_INLINE Columns16 load_columns16(int64_t col, const VnniEpilogue& e) {
  const int64_t valid = std::min<int64_t>(16, e.n - col);
  return Columns16{_mm512_loadu_si512(e.multiplier + col),
                   _mm512_loadu_si512(e.multiplier + col + 8),
                   _mm512_loadu_si512(e.offset + col),
                   _mm512_loadu_si512(e.offset + col + 8),
                   static_cast<__mmask16>(valid > 0 ? (1u << valid) - 1u : 0u),
                   col};
}

FXNN_VNNI_INLINE __m512i requant8(__m512i acc64, __m512i m, __m512i o, const VnniEpilogue& e) {
  // acc fits 32 bits; when the multipliers do too, vpmuldq (32 x 32 -> 64, one uop) gives the same
  // exact product as vpmullq (64 x 64, three uops).
  const __m512i product = e.narrow_multipliers ? _mm512_mul_epi32(acc64, m) : _mm512_mullo_epi64(acc64, m);
  __m512i v = _mm512_add_epi64(product, o);
  v = _mm512_sra_epi64(v, e.shift);
  return _mm512_min_epi64(_mm512_max_epi64(v, e.lo), e.hi);
}

/// Requantizes 16 accumulators of the columns `c` and stores the valid ones into the output row
/// that starts at `row` (its element 0).
FXNN_VNNI_INLINE void store16_at(__m512i acc, void* row, const Columns16& c, const VnniEpilogue& e) {
  const __m512i l = requant8(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)), c.m_lo, c.o_lo, e);
  const __m512i h = requant8(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1)), c.m_hi, c.o_hi, e);
  const __mmask16 mask = c.valid;
  const int64_t col = c.col;
  switch (e.out.type) {
    case DType::kU8:
    case DType::kI8:
      _mm_mask_storeu_epi8(static_cast<int8_t*>(row) + col, mask,
                           _mm_unpacklo_epi64(_mm512_cvtepi64_epi8(l), _mm512_cvtepi64_epi8(h)));
      break;
    case DType::kI16:
      _mm256_mask_storeu_epi16(
          static_cast<int16_t*>(row) + col, mask,
          _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi64_epi16(l)), _mm512_cvtepi64_epi16(h), 1));
      break;
    case DType::kI32:
      _mm512_mask_storeu_epi32(
          static_cast<int32_t*>(row) + col, mask,
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(l)), _mm512_cvtepi64_epi32(h), 1));
      break;
    case DType::kI64:
      _mm512_mask_storeu_epi64(static_cast<int64_t*>(row) + col, static_cast<__mmask8>(mask & 0xff), l);
      _mm512_mask_storeu_epi64(static_cast<int64_t*>(row) + col + 8, static_cast<__mmask8>(mask >> 8), h);
      break;
  }
}

/// The same for columns [col, col + 16), loading their parameters.
FXNN_VNNI_INLINE void store16_at(__m512i acc, void* row, int64_t col, const VnniEpilogue& e) {
  store16_at(acc, row, load_columns16(col, e), e);
}

} // namespace fxnn::runtime

#endif
