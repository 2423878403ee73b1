#pragma once
// A live progress line for long loops: redrawn in place on a terminal, a few plain lines in logs.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fxnn {

class ProgressLine {
 public:
  /// `label` prefixes every update, e.g. "epoch 3/15".
  ProgressLine(std::string label, int64_t total, std::FILE* stream = stderr);
  /// Reports `done` of `total` steps with a free-text status (e.g. "loss 0.41 acc 85.2%").
  void update(int64_t done, const std::string& status);
  /// Ends the line (a newline on a terminal).
  void finish(const std::string& status);

 private:
  std::string render(int64_t done, const std::string& status) const;

  std::string label_;
  int64_t total_;
  std::FILE* stream_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  int64_t last_decile_ = 0;
};

} // namespace fxnn
