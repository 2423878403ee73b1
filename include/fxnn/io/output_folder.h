#pragma once
// Output folders of commands (the fixed-point network of `fxnn export`, `fxnn synth --out`, `fxnn
// lowbit --out`): written as one step, and never put in place of anything fxnn did not write
// (docs/crash-safety.md, "Output folders").

#include <filesystem>
#include <functional>
#include <string>

namespace fxnn {

/// What a command does when its output folder exists: refuse (the default), or replace a folder of
/// its own kind (`--force`). A folder of another kind is refused either way.
enum class ExistingOutput { kRefuse, kReplace };

/// A kind of folder a command writes.
struct FolderKind {
  std::string name; // "a fixed-point network folder", for messages
  /// Why an existing, non-empty folder is not of this kind (e.g. "it holds checkpoint.pt"); "" if it is.
  std::function<std::string(const std::filesystem::path& dir)> foreign;
};

/// Throws std::runtime_error, one line naming `dir`, unless the folder may be written: it does not
/// exist, is empty, or is of `kind` and the policy is kReplace. Commands call it before their work.
void check_output_folder(const std::string& dir, const FolderKind& kind, ExistingOutput policy);

/// Writes a folder of several files as one step: `fill` writes every file into a staging folder beside
/// `dir` (`dir.partial.<pid>`), which then takes the place of `dir` (the old one moved to
/// `dir.previous.<pid>` for that instant, then removed). A crash leaves the old folder or the new one,
/// and the next write beside it recovers what a killed writer left (a staging folder is removed, a
/// moved-away folder is put back). Checks the policy first, as check_output_folder.
void write_folder_atomic(const std::string& dir, const FolderKind& kind, ExistingOutput policy,
                         const std::function<void(const std::filesystem::path& staging)>& fill);

/// Puts back or removes what killed writers left beside `dir` (the recovery write_folder_atomic makes);
/// returns the names it handled.
std::vector<std::string> recover_interrupted_folder_writes(const std::string& dir);

} // namespace fxnn
