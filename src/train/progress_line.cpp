#include "fxnn/train/progress_line.h"

#include <unistd.h>

#include <cstdio>

namespace fxnn {

namespace {
// Terminal redraws at most this often: faster redraws cost time and are unreadable anyway.
constexpr double kRedrawSeconds = 0.25;
} // namespace

ProgressLine::ProgressLine(std::string label, int64_t total, std::FILE* stream)
    : label_(std::move(label)),
      total_(total),
      stream_(stream),
      interactive_(::isatty(::fileno(stream)) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

std::string ProgressLine::render(int64_t done, const std::string& status) const {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  char text[512];
  std::snprintf(text, sizeof text, "%s %lld/%lld  %s  %.0fs elapsed, %.0fs left", label_.c_str(),
                static_cast<long long>(done), static_cast<long long>(total_), status.c_str(), seconds, eta);
  return text;
}

void ProgressLine::update(int64_t done, const std::string& status) {
  const auto now = std::chrono::steady_clock::now();
  if (interactive_) {
    if (std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds && done < total_) return;
    last_draw_ = now;
    std::fprintf(stream_, "\r\033[K%s", render(done, status).c_str());
    std::fflush(stream_);
    return;
  }
  // In a log file: one line per tenth of the loop.
  const int64_t decile = total_ > 0 ? done * 10 / total_ : 10;
  if (decile > last_decile_ && decile < 10) {
    last_decile_ = decile;
    std::fprintf(stream_, "%s\n", render(done, status).c_str());
    std::fflush(stream_);
  }
}

void ProgressLine::finish(const std::string& status) {
  if (interactive_) std::fprintf(stream_, "\r\033[K");
  std::fprintf(stream_, "%s\n", render(total_, status).c_str());
  std::fflush(stream_);
}

} // namespace fxnn
