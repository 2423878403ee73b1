#include "fxnn/runtime/engine.h"

#include <omp.h>

#include <chrono>
#include <map>
#include <stdexcept>

#include "fxnn/runtime/reference_kernels.h"
#include "optimized_kernels.h"

namespace fxnn::runtime {

namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void run_reference(const ir::Node& node, const std::vector<const Codes*>& in, Codes& out) {
  switch (node.op) {
    case ir::OpKind::kRescale: rescale_reference(node, *in[0], out); return;
    case ir::OpKind::kConv2d: conv2d_reference(node, *in[0], out); return;
    case ir::OpKind::kDense: dense_reference(node, *in[0], out); return;
    case ir::OpKind::kMaxPool: maxpool_reference(node, *in[0], out); return;
    case ir::OpKind::kAvgPool: avgpool_reference(node, *in[0], out); return;
    case ir::OpKind::kAdd: add_reference(node, *in[0], *in[1], out); return;
    case ir::OpKind::kFlatten: flatten_reference(node, *in[0], out); return;
  }
}

} // namespace

struct Engine::Prepared {
  const ir::Node* node = nullptr;
  std::vector<int> inputs;  // indices into the tensor list: 0 = network input, i + 1 = node i
  std::unique_ptr<PreparedNode> kernel; // null in reference mode
  int last_use = -1;        // the last node that reads this node's output (its buffer is freed after)
};

Engine::Engine(const ir::Network& network, EngineOptions options) : network_(network), options_(options) {
  network_.validate();
  isa_ = options_.reference ? Isa::kPortable : resolve_isa(options_.isa);
  threads_ = options_.threads > 0 ? options_.threads : omp_get_max_threads();
  std::map<std::string, int> index{{network_.input_name, 0}};
  for (size_t i = 0; i < network_.nodes.size(); ++i) {
    const ir::Node& node = network_.nodes[i];
    auto p = std::make_unique<Prepared>();
    p->node = &node;
    std::vector<Format> formats;
    std::vector<std::vector<int64_t>> shapes;
    for (const auto& name : node.inputs) {
      p->inputs.push_back(index.at(name));
      formats.push_back(network_.format_of(name));
      shapes.push_back(network_.shape_of(name));
    }
    if (!options_.reference) p->kernel = prepare_node(node, formats, shapes, isa_);
    for (int in : p->inputs)
      if (in > 0) nodes_[static_cast<size_t>(in - 1)]->last_use = static_cast<int>(i);
    index[node.name] = static_cast<int>(i) + 1;
    profile_.push_back({node.name, p->kernel ? p->kernel->kernel() : "reference", 0.0, 0});
    nodes_.push_back(std::move(p));
  }
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

Codes Engine::run(const Codes& input) {
  std::vector<int64_t> expected{input.batch()};
  expected.insert(expected.end(), network_.input_shape.begin(), network_.input_shape.end());
  if (input.shape() != expected)
    throw std::invalid_argument("input shape " + shape_str(input.shape()) + " does not match the network input " +
                                shape_str(expected));
  if (input.format() != network_.input_format)
    throw std::invalid_argument("input format " + input.format().str() + " is not the network input format " +
                                network_.input_format.str());
  std::vector<Codes> tensors(nodes_.size() + 1);
  const auto tensor = [&](int i) -> const Codes& { return i == 0 ? input : tensors[static_cast<size_t>(i)]; };
  int output = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Prepared& p = *nodes_[i];
    std::vector<const Codes*> in;
    for (int t : p.inputs) in.push_back(&tensor(t));
    const auto start = std::chrono::steady_clock::now();
    Codes& out = tensors[i + 1];
    if (p.kernel) p.kernel->run(in, out, threads_);
    else run_reference(*p.node, in, out);
    if (options_.profile) {
      profile_[i].seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++profile_[i].calls;
    }
    if (p.node->name == network_.output) output = static_cast<int>(i) + 1;
    // Inputs read for the last time are released (peak memory: the live tensors only).
    for (int t : p.inputs)
      if (t > 0 && nodes_[static_cast<size_t>(t - 1)]->last_use == static_cast<int>(i) &&
          network_.nodes[static_cast<size_t>(t - 1)].name != network_.output)
        tensors[static_cast<size_t>(t)] = Codes();
  }
  Codes result = std::move(tensors[static_cast<size_t>(output)]);
  return result.channels_last() ? result.with_layout(Layout::kChannelsFirst) : result;
}

std::vector<int64_t> argmax_rows(const Codes& output) {
  const Codes canonical = output.channels_last() ? output.with_layout(Layout::kChannelsFirst) : output;
  const int64_t n = canonical.batch(), per = n > 0 ? canonical.numel() / n : 0;
  std::vector<int64_t> best(static_cast<size_t>(n), 0);
  for (int64_t s = 0; s < n; ++s) {
    int64_t arg = 0, top = canonical.get(s * per);
    for (int64_t j = 1; j < per; ++j)
      if (canonical.get(s * per + j) > top) top = canonical.get(s * per + j), arg = j;
    best[static_cast<size_t>(s)] = arg;
  }
  return best;
}

} // namespace fxnn::runtime
