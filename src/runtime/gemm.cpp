#include "gemm.h"

#include <stdexcept>
#include <string>

#include "dtype_dispatch.h"
#include "gemm_narrow.h"

namespace fxnn::runtime {

int gemm_group(GemmKind kind) {
  switch (kind) {
    case GemmKind::kU8S8: return 4;
    case GemmKind::kS16S16: return 2;
    case GemmKind::kWide: return 1;
  }
  return 1;
}

DType gemm_a_type(GemmKind kind) {
  switch (kind) {
    case GemmKind::kU8S8: return DType::kU8;
    case GemmKind::kS16S16: return DType::kI16;
    case GemmKind::kWide: return DType::kI64;
  }
  return DType::kI64;
}

GemmKind choose_gemm_kind(DType a, const Format& w, int accumulator_bits) {
  if (accumulator_bits > 32) return GemmKind::kWide;
  const DType wt = storage_type(w);
  const bool w8 = wt == DType::kI8 || (wt == DType::kU8 && w.code_max() <= 127);
  const bool w16 = w8 || wt == DType::kU8 || wt == DType::kI16;
  if (a == DType::kU8 && w8) return GemmKind::kU8S8;
  if ((a == DType::kU8 || a == DType::kI8 || a == DType::kI16) && w16) return GemmKind::kS16S16;
  return GemmKind::kWide;
}

namespace {

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

template <typename T>
void pack(const std::vector<int64_t>& w, int64_t n, int64_t k, int64_t k_padded, int64_t n_padded, int group, bool vnni,
          T* dst) {
  if (vnni) {
    const int64_t groups = k_padded / group;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t block = j / 16, lane = j % 16;
      T* column = dst + block * groups * 16 * group + lane * group;
      for (int64_t kk = 0; kk < k; ++kk)
        column[(kk / group) * 16 * group + kk % group] = static_cast<T>(w[static_cast<size_t>(j * k + kk)]);
    }
  } else {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kk = 0; kk < k; ++kk) dst[j * k_padded + kk] = static_cast<T>(w[static_cast<size_t>(j * k + kk)]);
  }
  (void)n_padded;
}

} // namespace

GemmWeights::GemmWeights(const std::vector<int64_t>& w, int64_t n, int64_t k, GemmKind kind, Isa isa, bool narrow)
    : kind_(kind),
      isa_(kind == GemmKind::kWide ? Isa::kPortable : vector_isa(isa)),
      narrow_(narrow && kind == GemmKind::kU8S8),
      n_(n),
      k_(k) {
  if (static_cast<int64_t>(w.size()) != n * k)
    throw std::logic_error("GemmWeights: " + std::to_string(w.size()) + " codes for " + std::to_string(n) + " x " +
                           std::to_string(k));
  const int group = gemm_group(kind);
  k_padded_ = round_up(std::max<int64_t>(k, 1), group);
  n_padded_ = round_up(std::max<int64_t>(n, 1), 16);
  const bool vnni = isa_ == Isa::kAvx512Vnni;
  switch (kind) {
    case GemmKind::kU8S8:
      data_.resize(static_cast<size_t>(n_padded_ * k_padded_));
      pack(w, n, k, k_padded_, n_padded_, group, vnni, data_.as<int8_t>());
      break;
    case GemmKind::kS16S16:
      data_.resize(static_cast<size_t>(n_padded_ * k_padded_) * sizeof(int16_t));
      pack(w, n, k, k_padded_, n_padded_, group, vnni, data_.as<int16_t>());
      break;
    case GemmKind::kWide:
      data_.resize(static_cast<size_t>(n_padded_ * k_padded_) * sizeof(int64_t));
      pack(w, n, k, k_padded_, n_padded_, group, false, data_.as<int64_t>());
      break;
  }
}

std::string gemm_name(const GemmWeights& b) {
  const char* kinds[] = {"u8s8", "s16s16", "wide"};
  if (b.narrow()) return std::string("u8s8 i16 ") + (b.isa() == Isa::kAvx512Vnni ? "avx512bw" : "portable");
  return std::string(kinds[static_cast<int>(b.kind())]) + " " + to_string(b.isa());
}

void gemm_requantize(const GemmWeights& b, const void* a, int64_t rows, int64_t lda, const ChannelRequant& requant,
                     const GemmOutput& out, int64_t first_block, int64_t last_block) {
  const int64_t blocks = b.n_padded() / 16;
  if (last_block < 0 || last_block > blocks) last_block = blocks;
  if (rows <= 0 || first_block >= last_block) return;
  if (b.narrow()) {
    if (first_block != 0 || last_block != blocks)
      throw std::logic_error("gemm_requantize: narrow weights compute every column");
    gemm_narrow(b, a, rows, lda, requant, out);
  } else if (b.isa() == Isa::kAvx512Vnni) {
    gemm_vnni(b, a, rows, lda, requant, out, first_block, last_block);
  } else {
    gemm_portable(b, a, rows, lda, requant, out, first_block, last_block);
  }
}

} // namespace fxnn::runtime
