// Output folders written as one step, never in place of what fxnn did not write, and the recovery of
// what a killed writer left (docs/crash-safety.md, "Output folders").

#include "fxnn/io/output_folder.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "../support/temp_dir.h"
#include "fxnn/io/atomic_file.h"

namespace fxnn {
namespace {

namespace fs = std::filesystem;
using testing_support::TempDir;

/// A folder of "kind A": only *.a files.
FolderKind kind_a() {
  return {"a folder of kind A", [](const fs::path& dir) -> std::string {
            for (const auto& e : fs::directory_iterator(dir))
              if (e.path().extension() != ".a") return "it holds " + e.path().filename().string();
            return "";
          }};
}

void write_a(const fs::path& dir, const std::string& content) { write_file_atomic((dir / "x.a").string(), content); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::runtime_error& e) { return e.what(); }
  return "";
}

/// A pid that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

TEST(OutputFolder, ANewFolderIsWrittenAndAnEmptyOneFilled) {
  TempDir tmp;
  write_folder_atomic(tmp / "new", kind_a(), ExistingOutput::kRefuse, [](const fs::path& d) { write_a(d, "1"); });
  EXPECT_EQ(read_file(tmp / "new/x.a"), "1");
  fs::create_directories(tmp / "empty");
  write_folder_atomic(tmp / "empty", kind_a(), ExistingOutput::kRefuse, [](const fs::path& d) { write_a(d, "2"); });
  EXPECT_EQ(read_file(tmp / "empty/x.a"), "2");
}

TEST(OutputFolder, AFolderOfItsKindIsReplacedOnlyWhenAsked) {
  TempDir tmp;
  const std::string dir = tmp / "out";
  write_folder_atomic(dir, kind_a(), ExistingOutput::kRefuse, [](const fs::path& d) { write_a(d, "old"); });
  const std::string refused = error_of([&] {
    write_folder_atomic(dir, kind_a(), ExistingOutput::kRefuse, [](const fs::path& d) { write_a(d, "new"); });
  });
  EXPECT_EQ(refused, dir + ": holds a folder of kind A already; add --force to replace it");
  EXPECT_EQ(read_file(dir + "/x.a"), "old");
  write_folder_atomic(dir, kind_a(), ExistingOutput::kReplace, [](const fs::path& d) { write_a(d, "new"); });
  EXPECT_EQ(read_file(dir + "/x.a"), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.str()), fs::directory_iterator()), 1); // no staging left
}

TEST(OutputFolder, AnythingElseIsRefusedEvenWhenForced) {
  TempDir tmp;
  const std::string run = tmp / "run";
  fs::create_directories(run);
  write_file_atomic(run + "/checkpoint.pt", "weights");
  write_file_atomic(run + "/x.a", "a");
  for (auto policy : {ExistingOutput::kRefuse, ExistingOutput::kReplace}) {
    const std::string message = error_of([&] { write_folder_atomic(run, kind_a(), policy, [](const fs::path&) {}); });
    EXPECT_EQ(message, run +
                           ": not a folder of kind A written by fxnn (it holds checkpoint.pt); refusing to replace it "
                           "(choose another --out)");
    EXPECT_EQ(read_file(run + "/checkpoint.pt"), "weights");
  }
  const std::string file = tmp / "plain";
  write_file_atomic(file, "text");
  EXPECT_EQ(error_of([&] { check_output_folder(file, kind_a(), ExistingOutput::kReplace); }),
            file + ": exists and is not a folder; refusing to replace it (choose another --out)");
  EXPECT_EQ(read_file(file), "text");
}

TEST(OutputFolder, WhatAKilledWriterLeftIsRecovered) {
  TempDir tmp;
  const std::string dir = tmp / "out";
  const std::string gone = std::to_string(dead_pid());
  // Killed while filling its staging folder: removed.
  fs::create_directories(dir + ".partial." + gone);
  // Killed between its two renames: the old folder was moved aside and nothing took its place; put back.
  fs::create_directories(dir + ".previous." + gone);
  write_file_atomic(dir + ".previous." + gone + "/x.a", "old");
  // A live writer's staging folder stays.
  const std::string live = dir + ".partial." + std::to_string(::getpid());
  fs::create_directories(live);
  const auto handled = recover_interrupted_folder_writes(dir);
  EXPECT_EQ(handled.size(), 2u);
  EXPECT_FALSE(fs::exists(dir + ".partial." + gone));
  EXPECT_FALSE(fs::exists(dir + ".previous." + gone));
  EXPECT_EQ(read_file(dir + "/x.a"), "old");
  EXPECT_TRUE(fs::exists(live));
  fs::remove_all(live);
  // A moved-aside folder whose replacement did arrive is removed at the next write.
  fs::create_directories(dir + ".previous." + gone);
  write_folder_atomic(dir, kind_a(), ExistingOutput::kReplace, [](const fs::path& d) { write_a(d, "new"); });
  EXPECT_FALSE(fs::exists(dir + ".previous." + gone));
  EXPECT_EQ(read_file(dir + "/x.a"), "new");
}

TEST(OutputFolder, AFailedFillLeavesTheOldFolder) {
  TempDir tmp;
  const std::string dir = tmp / "out";
  write_folder_atomic(dir, kind_a(), ExistingOutput::kRefuse, [](const fs::path& d) { write_a(d, "old"); });
  EXPECT_THROW(write_folder_atomic(dir, kind_a(), ExistingOutput::kReplace,
                                   [](const fs::path&) { throw std::runtime_error("disk full"); }),
               std::runtime_error);
  EXPECT_EQ(read_file(dir + "/x.a"), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.str()), fs::directory_iterator()), 1);
}

} // namespace
} // namespace fxnn
