#include "fxnn/deploy/calibration_stream.h"

#include <numeric>

#include "fxnn/deploy/torch_simulation.h"

namespace fxnn::lowbit {

namespace {

/// The node alone, reading the tensor it reads in `network` as its input: one step of the simulation.
ir::Network single_node(const ir::Node& node, const ir::Network& network) {
  ir::Network one;
  one.name = network.name;
  one.input_name = node.inputs.at(0);
  one.input_format = network.format_of(one.input_name);
  one.input_shape = network.shape_of(one.input_name);
  one.nodes = {node};
  one.output = node.name;
  return one;
}

/// int16 when the codes of `format` fit it: the calibration tensors stay small.
torch::ScalarType storage_of(const Format& format) { return format.bits <= 16 ? torch::kShort : torch::kLong; }

torch::Tensor weights_of(const ir::Node& node) {
  return torch::tensor(node.weight->data, torch::kLong).view(node.weight->shape).to(torch::kDouble);
}

} // namespace

CalibrationStream::CalibrationStream(const data::ImageDataset& images, const data::TransformOptions& transform,
                                     const ir::Network& network) {
  torch::NoGradGuard no_grad;
  data::LoaderOptions loader;
  loader.shuffle = false;
  loader.augment = false;
  loader.transform = transform;
  std::vector<int64_t> all(static_cast<size_t>(images.size()));
  std::iota(all.begin(), all.end(), 0);
  x_ = data::make_batch(images, all, 0, loader).inputs.to(torch::kFloat);
  codes_ = image_codes(images.images).to(storage_of(network.input_format));
}

std::vector<ChannelFit> CalibrationStream::fit(const FloatLayer& layer, const ir::Node& node) const {
  torch::NoGradGuard no_grad;
  const bool conv = layer.kind == FloatLayer::Kind::kConv2d;
  const auto w = weights_of(node);
  const int64_t channels = w.size(0);
  // Sums per channel of z, acc, z acc, acc^2 (float64; the calibration set has < 2^53 terms).
  auto sz = torch::zeros({channels}, torch::kDouble), sa = sz.clone(), sza = sz.clone(), saa = sz.clone();
  double count = 0;
  for (int64_t start = 0; start < x_.size(0); start += kBatch) {
    const int64_t n = std::min(kBatch, x_.size(0) - start);
    const auto x = x_.narrow(0, start, n).to(torch::kDouble);
    const auto codes = codes_.narrow(0, start, n).to(torch::kDouble);
    torch::Tensor z, acc;
    if (conv) {
      z = torch::conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding);
      acc = torch::conv2d(codes, w, {}, node.stride, node.padding);
      // [N, C, H, W] -> [C, N H W]
      z = z.transpose(0, 1).reshape({channels, -1});
      acc = acc.transpose(0, 1).reshape({channels, -1});
    } else {
      z = torch::linear(x, layer.weight, layer.bias).t();
      acc = torch::matmul(codes, w.t()).t();
    }
    sz += z.sum(1);
    sa += acc.sum(1);
    sza += (z * acc).sum(1);
    saa += (acc * acc).sum(1);
    count += static_cast<double>(z.size(1));
  }
  std::vector<ChannelFit> fits(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    ChannelFit& f = fits[static_cast<size_t>(c)];
    f.mean_z = sz[c].item<double>() / count;
    f.mean_acc = sa[c].item<double>() / count;
    f.covariance = sza[c].item<double>() / count - f.mean_z * f.mean_acc;
    f.variance_acc = std::max(0.0, saa[c].item<double>() / count - f.mean_acc * f.mean_acc);
  }
  return fits;
}

void CalibrationStream::advance(const FloatLayer* layer, const ir::Node& node, const ir::Network& network) {
  torch::NoGradGuard no_grad;
  const ir::Network one = single_node(node, network);
  std::vector<torch::Tensor> xs, cs;
  for (int64_t start = 0; start < x_.size(0); start += kBatch) {
    const int64_t n = std::min(kBatch, x_.size(0) - start);
    auto x = x_.narrow(0, start, n);
    xs.push_back(layer ? forward(*layer, x.to(torch::kDouble)).to(torch::kFloat) : x);
    cs.push_back(simulate_network(one, codes_.narrow(0, start, n)).to(storage_of(node.output_format)));
  }
  x_ = torch::cat(xs);
  codes_ = torch::cat(cs);
}

} // namespace fxnn::lowbit
