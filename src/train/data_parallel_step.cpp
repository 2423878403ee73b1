#include "fxnn/train/data_parallel_step.h"

#include <cmath>
#include <stdexcept>

#include "fxnn/core/seed.h"

namespace fxnn {

namespace {

/// Micro-batch k of a batch of n samples split K ways: [begin, end).
std::pair<int64_t, int64_t> micro_batch_range(int64_t n, int64_t k, int64_t parts) {
  const int64_t base = n / parts, extra = n % parts;
  const int64_t begin = k * base + std::min(k, extra);
  return {begin, begin + base + (k < extra ? 1 : 0)};
}

torch::Tensor flat(const std::vector<torch::Tensor>& tensors, torch::ScalarType dtype) {
  std::vector<torch::Tensor> parts;
  for (const auto& t : tensors) parts.push_back(t.reshape({-1}).to(dtype));
  return parts.empty() ? torch::zeros({0}, dtype) : torch::cat(parts);
}

/// The narrowest integer type Gloo reduces that holds a sum of `terms` codes of `bits`-bit words
/// (Gloo in LibTorch 1.13 reduces int8, int32 and int64, not int16).
torch::ScalarType code_sum_type(int bits, int64_t terms) {
  const int needed = bits + static_cast<int>(std::ceil(std::log2(static_cast<double>(std::max<int64_t>(terms, 1)))));
  if (needed <= 8) return torch::kChar;
  if (needed <= 32) return torch::kInt;
  return torch::kLong;
}

} // namespace

DataParallelStep::DataParallelStep(NetworkImpl& network, FixedPointSGD& optimizer, Communicator& communicator,
                                   int64_t micro_batches, uint64_t seed)
    : network_(network),
      optimizer_(optimizer),
      communicator_(communicator),
      micro_batches_(micro_batches),
      seed_(seed),
      weights_(network.weight_quantizations()),
      float_parameters_(network.float_parameters()) {
  if (micro_batches_ < 1 || micro_batches_ % communicator.size() != 0)
    throw std::invalid_argument("train.micro_batches = " + std::to_string(micro_batches_) +
                                " must be a positive multiple of the number of processes (" +
                                std::to_string(communicator.size()) + ")");
  for (const auto& b : network.buffers())
    if (b.is_floating_point()) buffers_.push_back(b);
}

DataParallelStep::MicroBatch DataParallelStep::compute(const data::Batch& batch, int64_t begin, int64_t end,
                                                       uint64_t stream, StepResult& result) {
  MicroBatch mb;
  optimizer_.zero_grad();
  const int64_t n = end - begin;
  if (n > 0) {
    torch::manual_seed(stream); // dropout
    for (auto& p : network_.quant_points()) p->set_stream(stream);
    const auto inputs = batch.inputs.slice(0, begin, end);
    const auto labels = batch.labels.slice(0, begin, end);
    const auto logits = network_.forward(inputs);
    auto loss = torch::nn::functional::cross_entropy(logits, labels);
    result.loss_sum += loss.item<double>() * static_cast<double>(n);
    result.correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
    result.samples += n;
    const int64_t total = batch.labels.size(0);
    // The step's loss is the mean over the global batch: this micro-batch weighs n / total (skipped
    // when it is the whole batch, so that K = 1 is exactly the plain step).
    if (n != total) loss = loss * (static_cast<double>(n) / static_cast<double>(total));
    loss.backward();
  }
  torch::NoGradGuard no_grad;
  const double share = static_cast<double>(n) / static_cast<double>(batch.labels.size(0));
  for (const auto& w : weights_) {
    const auto g = w.weight.grad().defined() ? w.weight.grad() : torch::zeros_like(w.weight);
    mb.weight_gradients.push_back(n > 0 ? optimizer_.regularized_gradient(w, g, share).clone() : g.clone());
  }
  for (const auto& p : float_parameters_)
    mb.float_gradients.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
  for (const auto& b : buffers_) mb.buffers.push_back(b.clone());
  return mb;
}

StepResult DataParallelStep::run(const data::Batch& batch, int64_t epoch, int64_t step, TrainingObserver* observer) {
  const int64_t n = batch.labels.size(0);
  const int64_t per_rank = micro_batches_ / communicator_.size();
  const uint64_t step_stream = mix_seed(mix_seed(seed_, static_cast<uint64_t>(epoch)), static_cast<uint64_t>(step));
  // Every micro-batch starts from the step's running statistics R0.
  std::vector<torch::Tensor> r0;
  for (const auto& b : buffers_) r0.push_back(b.clone());
  std::vector<torch::Tensor> integer_buffers, integer_r0;
  for (const auto& b : network_.buffers())
    if (!b.is_floating_point()) {
      integer_buffers.push_back(b);
      integer_r0.push_back(b.clone());
    }

  StepResult result;
  std::vector<MicroBatch> mine;
  for (int64_t i = 0; i < per_rank; ++i) {
    const int64_t k = communicator_.rank() * per_rank + i;
    {
      torch::NoGradGuard no_grad;
      for (size_t j = 0; j < buffers_.size(); ++j) buffers_[j].copy_(r0[j]);
    }
    const auto [begin, end] = micro_batch_range(n, k, micro_batches_);
    mine.push_back(compute(batch, begin, end, mix_seed(step_stream, static_cast<uint64_t>(k)), result));
  }

  torch::NoGradGuard no_grad;
  // The optimizer-side points (W, acc) draw from the step's own stream.
  for (auto& p : network_.quant_points()) p->set_stream(mix_seed(step_stream, static_cast<uint64_t>(micro_batches_)));
  exchange_weight_gradients(mine, step_stream);
  exchange_float_gradients(mine);
  exchange_buffers(mine);
  for (size_t j = 0; j < integer_buffers.size(); ++j)
    integer_buffers[j].copy_(integer_r0[j] + 1); // one update per step
  if (observer) observer->on_gradients(network_);
  optimizer_.apply_gradients();
  return result;
}

void DataParallelStep::exchange_weight_gradients(const std::vector<MicroBatch>& mine, uint64_t step_stream) {
  const int64_t per_rank = static_cast<int64_t>(mine.size());
  const int64_t first = communicator_.rank() * per_rank;
  gradient_bytes_ = 0;
  // 1. Auto ranges: the largest |G| over every micro-batch of every rank (max is exact and order-free).
  std::vector<double> local_max(weights_.size(), 0.0);
  for (size_t w = 0; w < weights_.size(); ++w)
    for (const auto& mb : mine)
      local_max[w] = std::max(local_max[w], mb.weight_gradients[w].abs().max().item<double>());
  auto global_max = torch::tensor(local_max, torch::kDouble);
  bool any_auto = false;
  for (const auto& w : weights_) any_auto |= w.gradient_point->spec() && w.gradient_point->spec()->format.auto_range;
  if (any_auto) communicator_.all_reduce_max(global_max);

  // 2. Quantized weights: sum the integer codes of my micro-batches, then over ranks, per code type.
  std::map<torch::ScalarType, std::vector<size_t>> by_type;
  std::vector<Format> formats(weights_.size());
  std::vector<torch::Tensor> sums(weights_.size());
  std::vector<size_t> float_weights;
  for (size_t w = 0; w < weights_.size(); ++w) {
    const auto& point = weights_[w].gradient_point;
    if (!point->spec()) {
      float_weights.push_back(w);
      continue;
    }
    formats[w] = point->spec()->format.auto_range ? point->spec()->format.resolve_auto(global_max[w].item<double>())
                                                  : point->spec()->format;
    torch::Tensor codes = torch::zeros(weights_[w].weight.sizes(), torch::kLong);
    for (int64_t i = 0; i < per_rank; ++i) {
      point->set_stream(mix_seed(step_stream, static_cast<uint64_t>(first + i))); // micro-batch k's stream
      const auto q = point->quantize(mine[static_cast<size_t>(i)].weight_gradients[w].contiguous(), formats[w]);
      codes += (q.values.to(torch::kDouble) * std::ldexp(1.0, formats[w].frac)).round().to(torch::kLong);
    }
    sums[w] = codes;
    by_type[code_sum_type(formats[w].bits, micro_batches_)].push_back(w);
  }
  for (const auto& [type, members] : by_type) {
    std::vector<torch::Tensor> parts;
    for (size_t w : members) parts.push_back(sums[w]);
    auto packed = flat(parts, type);
    communicator_.all_reduce_sum(packed);
    gradient_bytes_ += static_cast<int64_t>(packed.nbytes());
    int64_t offset = 0;
    for (size_t w : members) {
      auto& weight = weights_[w].weight;
      const int64_t count = weight.numel();
      const auto total = packed.slice(0, offset, offset + count).to(torch::kDouble).view(weight.sizes());
      weight.mutable_grad() = (total * std::ldexp(1.0, -formats[w].frac)).to(weight.scalar_type());
      offset += count;
    }
  }

  // 3. Float weights (a float run): a float sum over micro-batches, then over ranks.
  if (!float_weights.empty()) {
    std::vector<torch::Tensor> parts;
    for (size_t w : float_weights) {
      torch::Tensor sum = mine.front().weight_gradients[w].clone();
      for (size_t i = 1; i < mine.size(); ++i) sum += mine[i].weight_gradients[w];
      parts.push_back(sum);
    }
    auto packed = flat(parts, torch::kFloat);
    communicator_.all_reduce_sum(packed);
    gradient_bytes_ += static_cast<int64_t>(packed.nbytes());
    int64_t offset = 0;
    for (size_t w : float_weights) {
      auto& weight = weights_[w].weight;
      weight.mutable_grad() = packed.slice(0, offset, offset + weight.numel()).view(weight.sizes()).clone();
      offset += weight.numel();
    }
  }
}

namespace {

/// Every micro-batch's vector of every rank, as rows [K, size] in micro-batch order.
torch::Tensor gather_rows(Communicator& communicator, const std::vector<torch::Tensor>& my_rows) {
  const auto gathered = communicator.all_gather(torch::stack(my_rows));
  return torch::cat(gathered);
}

} // namespace

void DataParallelStep::exchange_float_gradients(const std::vector<MicroBatch>& mine) {
  if (float_parameters_.empty()) return;
  std::vector<torch::Tensor> rows;
  for (const auto& mb : mine) rows.push_back(flat(mb.float_gradients, torch::kFloat));
  const auto total = gather_rows(communicator_, rows).sum(0); // the same [K, size] on every rank: the same sum
  int64_t offset = 0;
  for (auto& p : float_parameters_) {
    p.mutable_grad() = total.slice(0, offset, offset + p.numel()).view(p.sizes()).clone();
    offset += p.numel();
  }
}

void DataParallelStep::exchange_buffers(const std::vector<MicroBatch>& mine) {
  if (buffers_.empty()) return;
  std::vector<torch::Tensor> rows;
  for (const auto& mb : mine) rows.push_back(flat(mb.buffers, torch::kFloat));
  const auto mean = gather_rows(communicator_, rows).mean(0);
  int64_t offset = 0;
  for (auto& b : buffers_) {
    b.copy_(mean.slice(0, offset, offset + b.numel()).view(b.sizes()));
    offset += b.numel();
  }
}

} // namespace fxnn
