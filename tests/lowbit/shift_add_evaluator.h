#pragma once
// An evaluator of shift-clip networks for the tests that uses nothing but integer additions, the
// products of the B-bit weight and activation codes, shifts and comparisons: each multiplier is
// applied as a left shift (it throws when one is not a power of two) and no floating-point type
// appears. When it agrees with the integer runtime, the runtime has computed a shift-and-clip function.

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "fxnn/ir/fixed_point_network.h"

namespace fxnn::lowbit::testing {

inline int log2_exact(int64_t m) {
  if (m <= 0 || (m & (m - 1)) != 0)
    throw std::runtime_error("multiplier " + std::to_string(m) + " is not a power of two");
  int e = 0;
  while ((int64_t{1} << e) != m) ++e;
  return e;
}

/// eq. (3) of docs/fixed-point-network.md with v = (acc << log2(multiplier)) + offset.
inline int64_t shift_and_clip(int64_t acc, const ir::Requantize& r, size_t c) {
  const auto pick = [c](const std::vector<int64_t>& v) { return v.size() == 1 ? v[0] : v[c]; };
  // The left shift on the two's-complement bits (unsigned, so that negative acc is defined too).
  int64_t v = static_cast<int64_t>(static_cast<uint64_t>(acc) << log2_exact(pick(r.multiplier))) + pick(r.offset);
  if (r.shift > 0)
    v = (v + (r.rounding == Rounding::kNearest ? int64_t{1} << (r.shift - 1) : 0)) >> r.shift;
  else if (r.shift < 0)
    v = static_cast<int64_t>(static_cast<uint64_t>(v) << -r.shift);
  return v < r.clamp_min ? r.clamp_min : (v > r.clamp_max ? r.clamp_max : v);
}

/// Output codes of one sample (CHW codes of the input).
inline std::vector<int64_t> evaluate_shift_add(const ir::Network& net, const std::vector<int64_t>& input) {
  std::map<std::string, std::vector<int64_t>> t{{net.input_name, input}};
  for (const auto& n : net.nodes) {
    const auto& x = t.at(n.inputs[0]);
    const auto in_shape = net.shape_of(n.inputs[0]);
    std::vector<int64_t> y;
    switch (n.op) {
      case ir::OpKind::kRescale: {
        const size_t inner = x.size() / static_cast<size_t>(in_shape[0]);
        for (size_t i = 0; i < x.size(); ++i) y.push_back(shift_and_clip(x[i], *n.requantize, i / inner));
        break;
      }
      case ir::OpKind::kDense: {
        const size_t k = x.size();
        for (size_t o = 0; o < static_cast<size_t>(n.output_shape[0]); ++o) {
          int64_t acc = 0;
          for (size_t i = 0; i < k; ++i) acc += n.weight->data[o * k + i] * x[i];
          y.push_back(shift_and_clip(acc, *n.requantize, o));
        }
        break;
      }
      case ir::OpKind::kConv2d: {
        const int64_t ci = in_shape[0], h = in_shape[1], w = in_shape[2], kk = n.kernel;
        for (int64_t o = 0; o < n.output_shape[0]; ++o)
          for (int64_t oy = 0; oy < n.output_shape[1]; ++oy)
            for (int64_t ox = 0; ox < n.output_shape[2]; ++ox) {
              int64_t acc = 0;
              for (int64_t i = 0; i < ci; ++i)
                for (int64_t ky = 0; ky < kk; ++ky)
                  for (int64_t kx = 0; kx < kk; ++kx) {
                    const int64_t iy = oy * n.stride + ky - n.padding, ix = ox * n.stride + kx - n.padding;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                    acc += n.weight->data[static_cast<size_t>(((o * ci + i) * kk + ky) * kk + kx)] *
                           x[static_cast<size_t>((i * h + iy) * w + ix)];
                  }
              y.push_back(shift_and_clip(acc, *n.requantize, static_cast<size_t>(o)));
            }
        break;
      }
      case ir::OpKind::kMaxPool: {
        const int64_t h = in_shape[1], w = in_shape[2];
        for (int64_t c = 0; c < n.output_shape[0]; ++c)
          for (int64_t oy = 0; oy < n.output_shape[1]; ++oy)
            for (int64_t ox = 0; ox < n.output_shape[2]; ++ox) {
              int64_t best = x[static_cast<size_t>((c * h + oy * n.stride) * w + ox * n.stride)];
              for (int64_t ky = 0; ky < n.kernel; ++ky)
                for (int64_t kx = 0; kx < n.kernel; ++kx) {
                  const int64_t v = x[static_cast<size_t>((c * h + oy * n.stride + ky) * w + ox * n.stride + kx)];
                  best = v > best ? v : best;
                }
              y.push_back(best);
            }
        break;
      }
      case ir::OpKind::kFlatten: y = x; break;
      default: throw std::runtime_error("shift-add evaluator: no " + ir::to_string(n.op));
    }
    t[n.name] = std::move(y);
  }
  return t.at(net.output);
}

} // namespace fxnn::lowbit::testing
