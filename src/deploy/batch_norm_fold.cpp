#include "fxnn/deploy/batch_norm_fold.h"

#include <cmath>

namespace fxnn {

ChannelAffine fold_batch_norm(int64_t channels, const torch::Tensor& bias,
                              const std::optional<BatchNormView>& batch_norm) {
  torch::NoGradGuard no_grad;
  ChannelAffine a;
  a.scale.assign(static_cast<size_t>(channels), 1.0);
  a.shift.assign(static_cast<size_t>(channels), 0.0);
  const auto b =
      bias.defined() ? bias.detach().to(torch::kDouble).contiguous() : torch::zeros({channels}, torch::kDouble);
  const double* bp = b.data_ptr<double>();
  if (!batch_norm) {
    for (int64_t c = 0; c < channels; ++c) a.shift[static_cast<size_t>(c)] = bp[c];
    return a;
  }
  a.is_identity_scale = false;
  const auto as_double = [](const torch::Tensor& t) { return t.detach().to(torch::kDouble).contiguous(); };
  const auto gamma = as_double(batch_norm->gamma());
  const auto beta = batch_norm->affine ? as_double(batch_norm->bias) : torch::zeros({channels}, torch::kDouble);
  const auto mean = as_double(batch_norm->running_mean), var = as_double(batch_norm->running_var);
  for (int64_t c = 0; c < channels; ++c) {
    const double scale = gamma.data_ptr<double>()[c] / std::sqrt(var.data_ptr<double>()[c] + batch_norm->eps);
    a.scale[static_cast<size_t>(c)] = scale;
    a.shift[static_cast<size_t>(c)] = (bp[c] - mean.data_ptr<double>()[c]) * scale + beta.data_ptr<double>()[c];
  }
  return a;
}

FoldedLayer fold_batch_norm(const WeightedLayer& layer) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& weight = layer.weight();
  const int64_t channels = weight.size(0);
  const ChannelAffine a = fold_batch_norm(channels, layer.bias(), layer.batch_norm);
  FoldedLayer folded;
  folded.weight = weight.detach().to(torch::kDouble).clone();
  if (!a.is_identity_scale) {
    std::vector<int64_t> view(static_cast<size_t>(weight.dim()), 1);
    view[0] = -1;
    folded.weight = folded.weight * torch::tensor(a.scale, torch::kDouble).view(view);
  }
  folded.bias = torch::tensor(a.shift, torch::kDouble);
  return folded;
}

} // namespace fxnn
