#pragma once
// Independent analyses of the parts of a box (docs/synthesis.md section 5.1) spread over threads.

#include <algorithm>
#include <cstddef>
#include <future>
#include <thread>
#include <vector>

namespace fxnn::synth::detail {

/// `requested` threads, or all hardware threads for 0.
inline int thread_count(int requested) {
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Calls body(k) once for every k in [0, n), thread w taking k = w, w + T, ... of T = min(n, threads)
/// threads. `body` must touch only what belongs to its k; the results do not depend on T. The first
/// exception (by thread) is rethrown after every thread has ended.
template <class Body>
void parallel_for(size_t n, int threads, const Body& body) {
  const size_t t = std::min(n, static_cast<size_t>(std::max(threads, 1)));
  if (t <= 1) {
    for (size_t k = 0; k < n; ++k) body(k);
    return;
  }
  const auto stride = [&](size_t first) {
    for (size_t k = first; k < n; k += t) body(k);
  };
  std::vector<std::future<void>> others;
  others.reserve(t - 1);
  for (size_t w = 1; w < t; ++w) others.push_back(std::async(std::launch::async, stride, w));
  std::exception_ptr failure;
  try {
    stride(0);
  } catch (...) { failure = std::current_exception(); }
  for (auto& other : others) {
    try {
      other.get();
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  if (failure) std::rethrow_exception(failure);
}

} // namespace fxnn::synth::detail
