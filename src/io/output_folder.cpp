#include "fxnn/io/output_folder.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <vector>

namespace fxnn {

namespace fs = std::filesystem;

namespace {

constexpr char kStagingMark[] = ".partial.";
constexpr char kPreviousMark[] = ".previous.";

/// The pid of a sibling `NAME<mark><pid>` of `name`, or -1.
long writer_of(const std::string& sibling, const std::string& name, const std::string& mark) {
  const std::string prefix = name + mark;
  if (sibling.size() <= prefix.size() || sibling.compare(0, prefix.size(), prefix) != 0) return -1;
  const std::string digits = sibling.substr(prefix.size());
  if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stol(digits);
}

/// kill(pid, 0) fails with ESRCH only when no such process exists.
bool process_gone(long pid) { return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

bool is_empty_folder(const fs::path& dir) {
  std::error_code ec;
  return fs::is_empty(dir, ec) && !ec;
}

} // namespace

void check_output_folder(const std::string& dir, const FolderKind& kind, ExistingOutput policy) {
  std::error_code ec;
  const auto status = fs::symlink_status(dir, ec);
  if (ec || status.type() == fs::file_type::not_found) return;
  if (status.type() != fs::file_type::directory)
    throw std::runtime_error(dir + ": exists and is not a folder; refusing to replace it (choose another --out)");
  if (is_empty_folder(dir)) return;
  const std::string why = kind.foreign(dir);
  if (!why.empty())
    throw std::runtime_error(dir + ": not " + kind.name + " written by fxnn (" + why +
                             "); refusing to replace it (choose another --out)");
  if (policy == ExistingOutput::kRefuse)
    throw std::runtime_error(dir + ": holds " + kind.name + " already; add --force to replace it");
}

std::vector<std::string> recover_interrupted_folder_writes(const std::string& dir) {
  const fs::path root = fs::path(dir).lexically_normal();
  const fs::path parent = root.has_parent_path() ? root.parent_path() : fs::path(".");
  const std::string name = root.filename().string();
  std::vector<std::string> handled;
  std::vector<fs::path> staging, previous;
  std::error_code ec;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string sibling = it->path().filename().string();
    const long staged_by = writer_of(sibling, name, kStagingMark);
    const long moved_by = writer_of(sibling, name, kPreviousMark);
    if (staged_by > 0 && process_gone(staged_by)) staging.push_back(it->path());
    if (moved_by > 0 && process_gone(moved_by)) previous.push_back(it->path());
  }
  for (const auto& p : staging) {
    std::error_code remove_error;
    fs::remove_all(p, remove_error);
    handled.push_back(p.filename().string());
  }
  for (const auto& p : previous) {
    // Killed between its two renames: the old folder is the user's, put it back where it was.
    std::error_code move_error;
    if (!fs::exists(root))
      fs::rename(p, root, move_error);
    else
      fs::remove_all(p, move_error);
    handled.push_back(p.filename().string());
  }
  return handled;
}

void write_folder_atomic(const std::string& dir, const FolderKind& kind, ExistingOutput policy,
                         const std::function<void(const fs::path& staging)>& fill) {
  recover_interrupted_folder_writes(dir);
  check_output_folder(dir, kind, policy);
  const fs::path root = fs::path(dir).lexically_normal();
  const fs::path staging = root.string() + kStagingMark + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  if (ec) throw std::runtime_error(staging.string() + ": cannot create the folder (" + ec.message() + ")");
  try {
    fill(staging);
    const fs::path previous = root.string() + kPreviousMark + std::to_string(::getpid());
    if (fs::exists(root)) fs::rename(root, previous);
    fs::rename(staging, root);
    fs::remove_all(previous, ec);
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(staging, ec);
    throw std::runtime_error(dir + ": cannot write the folder (" + e.code().message() + ")");
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

} // namespace fxnn
