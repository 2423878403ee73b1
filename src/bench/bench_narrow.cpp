// fxnn bench narrow: the product of the u8s8 family (src/runtime/gemm.h) with 32-bit and with
// 16-bit accumulators (src/runtime/gemm_narrow.h), on the GEMM shapes of the low-bit networks of
// experiments/lowbit, in both packings, alternated in one process on one thread.

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "fxnn/bench/benchmarks.h"
#include "fxnn/lowbit/step_search.h"
#include "gemm.h"
#include "gemm_narrow.h"
#include "timing.h"

namespace fxnn {

namespace {

using bench_timing::median;
using bench_timing::milliseconds;

struct Shape {
  const char* name;
  int64_t rows, k, n;
};

/// The products of the Fashion-MNIST networks (configs/fashion_mnist_{mlp,cnn}.yaml) as GEMMs:
/// rows = images (dense) or output pixels of `batch` images (conv, im2col of 3 x 3 kernels).
std::vector<Shape> shapes(int64_t batch) {
  return {{"mlp fc2 (512 x 512)", batch, 512, 512},
          {"cnn conv2 (288 x 64, 14 x 14 pixels)", batch * 196, 288, 64},
          {"cnn fc1 (3136 x 256)", batch, 3136, 256},
          {"cnn fc2 (256 x 10)", batch, 256, 10}};
}

/// One kernel: its packed weights and the median of its per-call times.
struct Timed {
  runtime::GemmWeights weights;
  std::vector<uint8_t> out;
  std::vector<double> ms;
};

} // namespace

nlohmann::ordered_json bench_narrow(const BenchNarrowOptions& o) {
  const lowbit::CodeRange w_codes = lowbit::symmetric_codes(o.bits), a_codes = lowbit::unsigned_codes(o.bits);
  std::vector<runtime::Isa> packings{runtime::Isa::kPortable};
  if (runtime::isa_supported(runtime::Isa::kAvx512Vnni)) packings.push_back(runtime::Isa::kAvx512Vnni);
  std::mt19937_64 rng(o.seed);
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const Shape& s : shapes(o.batch)) {
    nlohmann::ordered_json r;
    r["shape"] = s.name;
    r["rows"] = s.rows;
    r["k"] = s.k;
    r["n"] = s.n;
    // eq. (9) of docs/lowbit.md without bias: where it exceeds 16 bits no engine runs the shape narrow.
    const auto bound = static_cast<uint64_t>(s.k * w_codes.hi * a_codes.hi);
    r["bound"] = bound;
    if (bound > runtime::kNarrowAccumulatorMax) {
      r["narrow"] = false;
      results.push_back(r);
      continue;
    }
    r["narrow"] = true;
    std::vector<int64_t> w(static_cast<size_t>(s.n * s.k));
    for (auto& v : w) v = std::uniform_int_distribution<int64_t>(w_codes.lo, w_codes.hi)(rng);
    // Four kernels: per packing, 32-bit and 16-bit sums.
    std::vector<Timed> kernels;
    for (runtime::Isa isa : packings)
      for (bool narrow : {false, true}) {
        Timed t;
        t.weights = runtime::GemmWeights(w, s.n, s.k, runtime::GemmKind::kU8S8, isa, narrow);
        t.out.resize(static_cast<size_t>(s.rows * s.n));
        kernels.push_back(std::move(t));
      }
    const int64_t lda = kernels[0].weights.k_padded();
    for (const auto& t : kernels)
      if (t.weights.k_padded() != lda) throw std::logic_error("bench narrow: packings differ in k_padded");
    std::vector<uint8_t> a(static_cast<size_t>(s.rows * lda), 0);
    for (int64_t row = 0; row < s.rows; ++row)
      for (int64_t i = 0; i < s.k; ++i)
        a[static_cast<size_t>(row * lda + i)] =
            static_cast<uint8_t>(std::uniform_int_distribution<int64_t>(0, a_codes.hi)(rng));
    // A hidden layer's requantization: shift 3 (the step ratio of one octave per bit), clamp to the codes.
    const ir::Requantize req{{1}, 0, {0}, 3, Rounding::kNearest, 0, a_codes.hi};
    const auto rq = runtime::prepare_requant(req, s.n, kernels[0].weights.n_padded(), ir::WorstCase{{bound}});
    for (int64_t step = 0; step < o.warmup + o.steps; ++step)
      for (auto& t : kernels) { // alternated: slow drifts of the machine stay out of the ratios
        const runtime::GemmOutput out{runtime::DType::kU8, t.out.data(), s.n};
        const double ms = milliseconds([&] { runtime::gemm_requantize(t.weights, a.data(), s.rows, lda, rq, out); });
        if (step >= o.warmup) t.ms.push_back(ms);
      }
    const double macs = static_cast<double>(s.rows * s.k * s.n);
    bool equal = true;
    nlohmann::ordered_json per = nlohmann::ordered_json::array();
    for (size_t i = 0; i < kernels.size(); ++i) {
      equal = equal && kernels[i].out == kernels[0].out;
      per.push_back({{"kernel", runtime::gemm_name(kernels[i].weights)},
                     {"ms", median(kernels[i].ms)},
                     {"gmacs", macs / (median(kernels[i].ms) * 1e-3) / 1e9}});
    }
    r["kernels"] = per;
    // Per packing, 16-bit against 32-bit sums (> 1: the narrow kernel is faster).
    for (size_t p = 0; p < packings.size(); ++p)
      r["narrow_over_wide_" + runtime::to_string(packings[p])] =
          median(kernels[2 * p].ms) / median(kernels[2 * p + 1].ms);
    r["outputs_equal"] = equal;
    results.push_back(r);
  }
  nlohmann::ordered_json j;
  j["benchmark"] = "narrow";
  j["bits"] = o.bits;
  j["batch"] = o.batch;
  j["steps"] = o.steps;
  j["threads"] = 1;
  j["results"] = results;
  return j;
}

} // namespace fxnn
