// One writer per run directory, and nothing left behind by a run refused before its first file
// (docs/crash-safety.md, "One writer per run").

#include "fxnn/io/directory_lock.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "../support/temp_dir.h"

namespace fxnn {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

TEST(DirectoryLock, ASecondWriterIsRefusedWithTheHoldersPid) {
  TempDir tmp;
  DirectoryLock first(tmp / "run");
  try {
    DirectoryLock second(tmp / "run");
    FAIL() << "a second lock on the same directory was granted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("pid " + std::to_string(::getpid())), std::string::npos) << e.what();
  }
}

TEST(DirectoryLock, ADirectoryItCreatedAndNobodyWroteIsRemoved) {
  TempDir tmp;
  { DirectoryLock lock(tmp / "run"); }
  EXPECT_FALSE(fs::exists(tmp / "run"));
}

TEST(DirectoryLock, ADirectoryWithFilesOrThatExistedBeforeIsKept) {
  TempDir tmp;
  {
    DirectoryLock lock(tmp / "written");
    std::ofstream(fs::path(tmp / "written") / "metrics.jsonl") << "{}\n";
  }
  EXPECT_TRUE(fs::exists(fs::path(tmp / "written") / "metrics.jsonl"));
  fs::create_directories(tmp / "existing");
  { DirectoryLock lock(tmp / "existing"); }
  EXPECT_TRUE(fs::is_directory(tmp / "existing"));
}

} // namespace
} // namespace fxnn
