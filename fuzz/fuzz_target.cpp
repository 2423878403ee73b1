// One libFuzzer binary per parser: FXNN_FUZZ_HEADER names the header of the target and
// FXNN_FUZZ_TARGET the function that returns it (fuzz/CMakeLists.txt sets both).

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include FXNN_FUZZ_HEADER

namespace {

const fxnn::fuzz::Target& target() {
  static const fxnn::fuzz::Target t = FXNN_FUZZ_TARGET();
  return t;
}

/// The folder the inputs are written to: $FXNN_FUZZ_SCRATCH (scripts/fuzz.sh removes it), else a
/// folder of this process under /dev/shm (a RAM disk: files cost no disk writes) or the temp dir.
const std::string& scratch() {
  static const std::string dir = [] {
    if (const char* given = std::getenv("FXNN_FUZZ_SCRATCH")) return std::string(given);
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) ? "/dev/shm" : std::filesystem::temp_directory_path();
    return (base / ("fxnn_fuzz_" + target().name + "_" + std::to_string(::getpid()))).string();
  }();
  return dir;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fxnn::fuzz::reset_dir(scratch());
  const std::string violation =
      fxnn::fuzz::contract_violation(target(), std::string(reinterpret_cast<const char*>(data), size), scratch());
  if (!violation.empty()) {
    std::fprintf(stderr, "fxnn fuzz target %s: contract violated: %s\n", target().name.c_str(), violation.c_str());
    std::abort(); // libFuzzer saves the input as a crash
  }
  return 0;
}
