#include "fxnn/runtime/engine.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

#include "aligned_buffer.h"
#include "fxnn/runtime/reference_kernels.h"
#include "optimized_kernels.h"

namespace fxnn::runtime {

namespace {

/// Bytes of live tensors per chunk of samples that one thread runs through the network: about half
/// of a core's L2 cache, so that a step's input and output stay in it.
constexpr int64_t kChunkBytes = 512 * 1024;
/// The most samples per chunk (a chunk is a dense layer's rows: 64 rows amortize its weights).
constexpr int64_t kMaxChunk = 64;

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

/// True when `codes` is [batch, ...sample] of `format` in canonical order (no allocation).
bool has_shape(const Codes& codes, const Format& format, int64_t batch, const std::vector<int64_t>& sample) {
  const auto& shape = codes.shape();
  if (codes.format() != format || codes.channels_last() || shape.size() != sample.size() + 1 || shape[0] != batch)
    return false;
  return std::equal(sample.begin(), sample.end(), shape.begin() + 1);
}

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

} // namespace

struct Engine::Prepared {
  const ir::Node* node = nullptr;
  std::vector<int> inputs; // indices into the tensor list: 0 = network input, i + 1 = node i
  int last_use = -1;       // the last node that reads this node's output (its buffer is freed after)
};

/// The optimized kernels' plan and every buffer it runs with, kept between runs.
struct Engine::Executor {
  Plan plan;
  std::vector<int64_t> slot_offset;         // per sample, prefix sums of plan.slot_bytes
  std::vector<AlignedBuffer> arena;         // per thread: its chunk's tensors (arena[0]: also the whole batch)
  std::vector<AlignedBuffer> scratch;       // per thread
  std::vector<std::vector<uint8_t*>> base;  // per thread: tensor pointers of its slice
  std::vector<std::vector<double>> seconds; // per thread, per step (profile)

  void point(int thread, uint8_t* arena_base, int64_t capacity, const Codes& input, int64_t n0) {
    auto& b = base[static_cast<size_t>(thread)];
    b[0] = const_cast<uint8_t*>(static_cast<const uint8_t*>(input.raw())) + n0 * plan.tensors[0].sample_bytes;
    for (size_t t = 1; t < plan.tensors.size(); ++t)
      b[t] = arena_base + capacity * slot_offset[static_cast<size_t>(plan.tensors[t].slot)];
  }

  /// Every step of the plan on samples [n0, n0 + count) on this thread alone.
  void run_chunk(int thread, int64_t n0, int64_t count, int64_t capacity, const Codes& input, Codes& output,
                 bool profile) {
    point(thread, arena[static_cast<size_t>(thread)].as<uint8_t>(), capacity, input, n0);
    const Slice s{base[static_cast<size_t>(thread)].data(), count, input.channels_last()};
    AlignedBuffer& sc = scratch[static_cast<size_t>(thread)];
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& step = *plan.steps[i];
      const double start = profile ? now() : 0.0;
      step.run(s, 0, step.units(count, 1), sc, 1);
      if (profile) seconds[static_cast<size_t>(thread)][i] += now() - start;
    }
    copy_output(plan, s.base[plan.output], n0, count, output);
  }
};

Engine::Engine(const ir::Network& network, EngineOptions options) : network_(network), options_(options) {
  network_.validate();
  isa_ = options_.reference ? Isa::kPortable : resolve_isa(options_.isa);
  threads_ = options_.threads > 0 ? options_.threads : omp_get_max_threads();
  if (options_.reference) {
    std::map<std::string, int> index{{network_.input_name, 0}};
    for (size_t i = 0; i < network_.nodes.size(); ++i) {
      const ir::Node& node = network_.nodes[i];
      auto p = std::make_unique<Prepared>();
      p->node = &node;
      for (const auto& name : node.inputs) p->inputs.push_back(index.at(name));
      for (int in : p->inputs)
        if (in > 0) nodes_[static_cast<size_t>(in - 1)]->last_use = static_cast<int>(i);
      index[node.name] = static_cast<int>(i) + 1;
      profile_.push_back({node.name, "reference", 0.0, 0});
      nodes_.push_back(std::move(p));
    }
    return;
  }
  executor_ = std::make_unique<Executor>();
  Executor& e = *executor_;
  e.plan = build_plan(network_, isa_);
  int64_t offset = 0;
  for (int64_t bytes : e.plan.slot_bytes) e.slot_offset.push_back(offset), offset += bytes;
  const auto threads = static_cast<size_t>(threads_);
  e.arena.resize(threads);
  e.scratch.resize(threads);
  e.base.assign(threads, std::vector<uint8_t*>(e.plan.tensors.size(), nullptr));
  e.seconds.assign(threads, std::vector<double>(e.plan.steps.size(), 0.0));
  for (size_t i = 0; i < network_.nodes.size(); ++i)
    profile_.push_back({network_.nodes[i].name, e.plan.node_kernels[i], 0.0, 0});
}

Engine::~Engine() = default;
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;

Codes Engine::run(const Codes& input) {
  Codes output;
  run(input, output);
  return output;
}

void Engine::run(const Codes& input, Codes& output) {
  const auto& shape = input.shape();
  if (shape.size() != network_.input_shape.size() + 1 ||
      !std::equal(network_.input_shape.begin(), network_.input_shape.end(), shape.begin() + 1)) {
    std::vector<int64_t> expected{input.batch()};
    expected.insert(expected.end(), network_.input_shape.begin(), network_.input_shape.end());
    throw std::invalid_argument("input shape " + shape_str(shape) + " does not match the network input " +
                                shape_str(expected));
  }
  if (input.format() != network_.input_format)
    throw std::invalid_argument("input format " + input.format().str() + " is not the network input format " +
                                network_.input_format.str());
  if (executor_)
    run_optimized(input, output);
  else
    run_reference_nodes(input, output);
}

void Engine::run_reference_nodes(const Codes& input, Codes& output) {
  std::vector<Codes> tensors(nodes_.size() + 1);
  const auto tensor = [&](int i) -> const Codes& { return i == 0 ? input : tensors[static_cast<size_t>(i)]; };
  int out = 0;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Prepared& p = *nodes_[i];
    std::vector<const Codes*> in;
    for (int t : p.inputs) in.push_back(&tensor(t));
    const double start = now();
    run_reference(*p.node, in, tensors[i + 1]);
    if (options_.profile) {
      profile_[i].seconds += now() - start;
      ++profile_[i].calls;
    }
    if (p.node->name == network_.output) out = static_cast<int>(i) + 1;
    // Inputs read for the last time are released (peak memory: the live tensors only).
    for (int t : p.inputs)
      if (t > 0 && nodes_[static_cast<size_t>(t - 1)]->last_use == static_cast<int>(i) &&
          network_.nodes[static_cast<size_t>(t - 1)].name != network_.output)
        tensors[static_cast<size_t>(t)] = Codes();
  }
  Codes& result = tensors[static_cast<size_t>(out)];
  output = result.channels_last() ? result.with_layout(Layout::kChannelsFirst) : std::move(result);
}

void Engine::run_optimized(const Codes& input, Codes& output) {
  Executor& e = *executor_;
  const Plan& plan = e.plan;
  const int64_t batch = input.batch();
  const ir::Node& out_node = network_.node(network_.output);
  if (!has_shape(output, out_node.output_format, batch, out_node.output_shape)) {
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), out_node.output_shape.begin(), out_node.output_shape.end());
    output.reset(out_node.output_format, std::move(shape));
  }
  if (batch == 0) return;
  const int64_t per_sample = std::max<int64_t>(plan.arena_bytes_per_sample(), 1);
  const bool profile = options_.profile;
  int threads = threads_;
  const int64_t min_macs = options_.parallel_min_macs < 0 ? kDefaultParallelMinMacs : options_.parallel_min_macs;
  if (threads > 1 && plan.macs_per_sample * batch < min_macs) threads = 1;
  const bool chunked = threads == 1 || batch >= 2 * threads;
  int used = 1; // threads that ran steps (for the profile)

  if (chunked) {
    // Chunks of samples, each through the whole network on one thread.
    // As large as the cache allows, and the same number per thread.
    const int64_t largest = std::clamp<int64_t>(kChunkBytes / per_sample, 1, kMaxChunk);
    const int64_t per_thread = (batch + threads * largest - 1) / (threads * largest);
    const int64_t chunk = (batch + threads * per_thread - 1) / (threads * per_thread);
    const int64_t chunks = (batch + chunk - 1) / chunk;
    threads = static_cast<int>(std::min<int64_t>(threads, chunks));
    for (int t = 0; t < threads; ++t) {
      e.arena[static_cast<size_t>(t)].resize(static_cast<size_t>(chunk * per_sample));
      size_t scratch = 0;
      for (const auto& step : plan.steps) scratch = std::max(scratch, step->scratch_bytes(chunk, 1));
      e.scratch[static_cast<size_t>(t)].resize(scratch);
    }
    if (threads == 1) {
      for (int64_t c = 0; c < chunks; ++c)
        e.run_chunk(0, c * chunk, std::min(chunk, batch - c * chunk), chunk, input, output, profile);
    } else {
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
      for (int64_t c = 0; c < chunks; ++c)
        e.run_chunk(omp_get_thread_num(), c * chunk, std::min(chunk, batch - c * chunk), chunk, input, output, profile);
    }
    used = threads;
  } else {
    // One step at a time on every thread: each runs its share of the step's units, then a barrier.
    e.arena[0].resize(static_cast<size_t>(batch * per_sample));
    for (int t = 0; t < threads; ++t) {
      size_t scratch = 0;
      for (const auto& step : plan.steps) scratch = std::max(scratch, step->scratch_bytes(batch, threads));
      e.scratch[static_cast<size_t>(t)].resize(scratch);
    }
    e.point(0, e.arena[0].as<uint8_t>(), batch, input, 0);
    const Slice s{e.base[0].data(), batch, input.channels_last()};
#pragma omp parallel num_threads(threads)
    {
      const int team = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
      used = team;
      for (size_t i = 0; i < plan.steps.size(); ++i) {
        const Step& step = *plan.steps[i];
        const int64_t units = step.units(batch, team);
        const int64_t u0 = units * t / team, u1 = units * (t + 1) / team;
        const double start = profile ? now() : 0.0;
        if (u0 < u1) step.run(s, u0, u1, e.scratch[static_cast<size_t>(t)], team);
        if (profile) e.seconds[static_cast<size_t>(t)][i] += now() - start;
#pragma omp barrier
      }
      const int64_t n0 = batch * t / team, n1 = batch * (t + 1) / team;
      const int64_t bytes = plan.tensors[static_cast<size_t>(plan.output)].sample_bytes;
      if (n0 < n1) copy_output(plan, s.base[plan.output] + n0 * bytes, n0, n1 - n0, output);
    }
  }

  if (profile) {
    std::vector<char> ran(profile_.size(), 0);
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      double total = 0;
      for (auto& per_thread : e.seconds) total += per_thread[i], per_thread[i] = 0;
      const auto node = static_cast<size_t>(plan.steps[i]->node);
      profile_[node].seconds += total / used;
      ran[node] = 1;
    }
    for (size_t i = 0; i < profile_.size(); ++i) profile_[i].calls += ran[i];
  }
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
