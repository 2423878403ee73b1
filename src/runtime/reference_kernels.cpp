#include "fxnn/runtime/reference_kernels.h"

#include <algorithm>
#include <stdexcept>

namespace fxnn::runtime {

namespace {

std::vector<int64_t> batch_shape(int64_t batch, const std::vector<int64_t>& sample) {
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), sample.begin(), sample.end());
  return shape;
}

/// Fills `out` from int64 codes in channels-first order.
void store(const ir::Node& node, int64_t batch, const std::vector<int64_t>& values, Codes& out) {
  out.reset(node.output_format, batch_shape(batch, node.output_shape));
  for (int64_t i = 0; i < out.numel(); ++i) out.set(i, values[static_cast<size_t>(i)]);
}

} // namespace

int64_t requantize_reference(int64_t acc, const ir::Requantize& r, int64_t channel) {
  const auto pick = [channel](const std::vector<int64_t>& v) {
    return v.size() == 1 ? v[0] : v[static_cast<size_t>(channel)];
  };
  int64_t v = acc * pick(r.multiplier) + pick(r.offset);
  if (r.shift > 0) {
    if (r.rounding == Rounding::kNearest) v += int64_t{1} << (r.shift - 1);
    v >>= r.shift; // arithmetic shift: floor division by 2^shift
  } else if (r.shift < 0) {
    v *= int64_t{1} << -r.shift;
  }
  return std::clamp(v, r.clamp_min, r.clamp_max);
}

void rescale_reference(const ir::Node& node, const Codes& in, Codes& out) {
  const auto x = in.to_int64();
  const int64_t channels = node.output_shape[0];
  const int64_t inner = in.numel() / std::max<int64_t>(1, in.batch()) / channels; // H * W (1 for a vector)
  std::vector<int64_t> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / inner) % channels;
    y[i] = requantize_reference(x[i], *node.requantize, c);
  }
  store(node, in.batch(), y, out);
}

void conv2d_reference(const ir::Node& node, const Codes& in, Codes& out) {
  const auto x = in.to_int64();
  const auto& w = node.weight->data;
  const int64_t batch = in.batch(), ci = in.shape()[1], h = in.shape()[2], wd = in.shape()[3];
  const int64_t co = node.output_shape[0], oh = node.output_shape[1], ow = node.output_shape[2];
  const int64_t k = node.kernel, s = node.stride, p = node.padding;
  std::vector<int64_t> y(static_cast<size_t>(batch * co * oh * ow));
  size_t at = 0;
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < co; ++o)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          int64_t acc = 0; // eq. (1)
          for (int64_t i = 0; i < ci; ++i)
            for (int64_t ky = 0; ky < k; ++ky)
              for (int64_t kx = 0; kx < k; ++kx) {
                const int64_t iy = oy * s + ky - p, ix = ox * s + kx - p;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue; // zero outside
                acc += w[static_cast<size_t>(((o * ci + i) * k + ky) * k + kx)] *
                       x[static_cast<size_t>(((n * ci + i) * h + iy) * wd + ix)];
              }
          y[at++] = requantize_reference(acc, *node.requantize, o);
        }
  store(node, batch, y, out);
}

void dense_reference(const ir::Node& node, const Codes& in, Codes& out) {
  const auto x = in.to_int64();
  const auto& w = node.weight->data;
  const int64_t batch = in.batch(), features = in.shape()[1], co = node.output_shape[0];
  std::vector<int64_t> y(static_cast<size_t>(batch * co));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t o = 0; o < co; ++o) {
      int64_t acc = 0; // eq. (2)
      for (int64_t i = 0; i < features; ++i)
        acc += w[static_cast<size_t>(o * features + i)] * x[static_cast<size_t>(n * features + i)];
      y[static_cast<size_t>(n * co + o)] = requantize_reference(acc, *node.requantize, o);
    }
  store(node, batch, y, out);
}

namespace {

/// Max (maxpool) or sum (avgpool) over the kernel x kernel windows of channels-first codes.
template <typename Reduce>
std::vector<int64_t> pool(const ir::Node& node, const Codes& in, Reduce reduce) {
  const auto x = in.to_int64();
  const int64_t batch = in.batch(), c = in.shape()[1], h = in.shape()[2], w = in.shape()[3];
  const int64_t oh = node.output_shape[1], ow = node.output_shape[2], k = node.kernel, s = node.stride;
  std::vector<int64_t> y;
  y.reserve(static_cast<size_t>(batch * c * oh * ow));
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          std::vector<int64_t> window;
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx)
              window.push_back(x[static_cast<size_t>(((n * c + ch) * h + oy * s + ky) * w + ox * s + kx)]);
          y.push_back(reduce(window, ch));
        }
  return y;
}

} // namespace

void maxpool_reference(const ir::Node& node, const Codes& in, Codes& out) {
  const auto y = pool(node, in, [](const std::vector<int64_t>& window, int64_t) {
    return *std::max_element(window.begin(), window.end());
  });
  store(node, in.batch(), y, out);
}

void avgpool_reference(const ir::Node& node, const Codes& in, Codes& out) {
  const auto y = pool(node, in, [&](const std::vector<int64_t>& window, int64_t channel) {
    int64_t acc = 0;
    for (int64_t v : window) acc += v;
    return requantize_reference(acc, *node.requantize, channel);
  });
  store(node, in.batch(), y, out);
}

void add_reference(const ir::Node& node, const Codes& a, const Codes& b, Codes& out) {
  const auto xa = a.to_int64(), xb = b.to_int64();
  if (xa.size() != xb.size()) throw std::invalid_argument("add_reference: inputs of different sizes");
  const int frac = std::max(a.format().frac, b.format().frac);
  const int64_t scale_a = int64_t{1} << (frac - a.format().frac), scale_b = int64_t{1} << (frac - b.format().frac);
  const int64_t channels = node.output_shape[0];
  const int64_t inner = static_cast<int64_t>(xa.size()) / std::max<int64_t>(1, a.batch()) / channels;
  std::vector<int64_t> y(xa.size());
  for (size_t i = 0; i < xa.size(); ++i) {
    const int64_t c = (static_cast<int64_t>(i) / inner) % channels;
    y[i] = requantize_reference(xa[i] * scale_a + xb[i] * scale_b, *node.requantize, c);
  }
  store(node, a.batch(), y, out);
}

void flatten_reference(const ir::Node& node, const Codes& in, Codes& out) {
  store(node, in.batch(), in.to_int64(), out);
}

} // namespace fxnn::runtime
