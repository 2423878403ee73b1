// fxnn: fixed-point neural networks. Parses the command line and turns every error into one line.

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "commands.h"
#include "fxnn/core/blas_kernels.h"
#include "fxnn/version.h"

namespace {

/// LibTorch allocates and frees activation-sized buffers (megabytes) every training step. glibc serves
/// blocks above its mmap threshold with fresh mappings whose pages fault in again on every step, and
/// it moves that threshold up and down with the program's history of frees, so the same step ran at
/// 87 or 105 ms (Fashion-MNIST CNN, batch 128, one thread) depending on what ran before it. A fixed
/// threshold at glibc's largest (32 MiB on 64-bit) and a high trim threshold keep such buffers in the
/// heap. The user's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ win.
void keep_step_buffers_in_the_heap() {
  constexpr int kMmapThreshold = 32 << 20;
  constexpr int kTrimThreshold = 1 << 30;
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

} // namespace

int main(int argc, char** argv) {
  keep_step_buffers_in_the_heap();
  // A file-size limit (ulimit -f) then fails a write with EFBIG, reported like a full disk, instead of
  // killing the process mid-write.
  std::signal(SIGXFSZ, SIG_IGN);
  fxnn::reexec_with_faster_blas(argv);
  CLI::App app("fxnn: neural networks in fixed-point arithmetic", "fxnn");
  app.require_subcommand(1);
  // A refused command line is one line, like every other error (CLI11 adds a second by default).
  app.failure_message(
      [](const CLI::App*, const CLI::Error& e) { return "fxnn: error: " + std::string(e.what()) + " (see --help)\n"; });
  // The BLAS kernels matter for speed (include/fxnn/core/blas_kernels.h), so the version names them.
  app.set_version_flag("--version",
                       std::string("fxnn ") + fxnn::kVersion + " (BLAS kernels: " + fxnn::blas_core_in_use() + ")");
  // Logs and progress go to stderr; stdout carries results (tables, JSON) that scripts read.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fxnn"));
  spdlog::set_pattern("[%H:%M:%S] %v");
  fxnn::cli::add_train_command(app);
  fxnn::cli::add_bench_command(app);
  fxnn::cli::add_precision_commands(app);
  fxnn::cli::add_data_command(app);
  fxnn::cli::add_inspect_command(app);
  fxnn::cli::add_launch_command(app);
  fxnn::cli::add_synth_command(app);
  fxnn::cli::add_deploy_commands(app);
  fxnn::cli::add_lowbit_command(app);
  fxnn::cli::add_codegen_command(app);
  fxnn::cli::add_onnx_export_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every refused command line exits 1, as every other error does.
    return app.exit(e) == 0 ? 0 : 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "fxnn: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fxnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
