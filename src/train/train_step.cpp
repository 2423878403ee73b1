#include "fxnn/train/train_step.h"

namespace fxnn {

StepResult train_step(NetworkImpl& network, FixedPointSGD& optimizer, const data::Batch& batch,
                      TrainingObserver* observer) {
  optimizer.zero_grad();
  const auto logits = network.forward(batch.inputs);
  const auto loss = torch::nn::functional::cross_entropy(logits, batch.labels);
  loss.backward();
  if (observer) observer->on_gradients(network);
  optimizer.step();
  StepResult result;
  result.samples = batch.labels.size(0);
  result.loss_sum = loss.item<double>() * static_cast<double>(result.samples);
  result.correct = logits.argmax(1).eq(batch.labels).sum().item<int64_t>();
  return result;
}

Evaluation evaluate(NetworkImpl& network, data::BatchLoader& loader) {
  torch::NoGradGuard no_grad;
  const bool was_training = network.is_training();
  network.eval();
  double loss_sum = 0;
  int64_t correct = 0, samples = 0;
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    const auto logits = network.forward(batch->inputs);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch->labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(batch->labels).sum().item<int64_t>();
    samples += batch->labels.size(0);
  }
  network.train(was_training);
  Evaluation result;
  if (samples > 0) {
    result.loss = loss_sum / static_cast<double>(samples);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(samples);
  }
  return result;
}

} // namespace fxnn
