// Input and output files of the crypto commands. "-" (or no flag) is stdin /
// stdout. Files written here are created mode 0600, since they may hold
// plaintext. Read errors are local errors (exit 2) naming the flag and file.
#ifndef STRONGROOM_CLI_IO_H_
#define STRONGROOM_CLI_IO_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::cli {

// Whether `path` names stdout: "-", "" and the paths that are stdout's own
// descriptor (/dev/stdout, /dev/fd/1, /proc/self/fd/1), which writing through
// a temporary file and a rename would replace rather than write to.
bool NamesStdout(const std::string& path);

// "DEV:INODE" of the existing regular file behind `path` (stdin's for an
// input "-", stdout's for any of NamesStdout's spellings of an output), or ""
// when there is none: two paths with the same id are one file.
std::string RegularFileId(const std::string& path, bool is_input);

// Whether `in` and `out` are one existing file (same device and inode;
// "-" for `in` is stdin, for `out` stdout): a command that writes `out`
// whole would destroy the input it reads.
bool SameFile(const std::string& in, const std::string& out);

// "--FLAG: cannot WHAT 'PATH': <errno's text>" (UNAVAILABLE), for a failed
// read or write of a flag's file; errno as the failing call left it.
absl::Status IoError(absl::string_view what, const std::string& flag, const std::string& path);

// Whether an output file can be written at `path` (NamesStdout's spellings
// always can): a usage error naming `name` (the flag as the user wrote it,
// "--out" or "OUT") when it is a folder, or its folder is missing or not
// writable. Checked before any call, so that a command the server carried
// out and audited does not then fail to save what it got.
absl::Status CheckOutputPath(absl::string_view name, const std::string& path);

// Everything in `path` ("-" or "": stdin).
// At most `max_bytes` (a usage error past it: `--in /dev/zero` must not
// grow until the process aborts).
inline constexpr size_t kMaxInputBytes = size_t{64} << 20;
absl::StatusOr<std::string> ReadInput(const std::string& flag, const std::string& path,
                                      size_t max_bytes = kMaxInputBytes);
// Replaces `path` ("-" or "": stdout) with `data`.
absl::Status WriteOutput(const std::string& flag, const std::string& path, absl::string_view data);

// Ciphertext given raw (it starts with the "SRC1" magic) or as base64 text
// (whitespace ignored): the raw bytes. Anything else is returned unchanged for
// the server to judge.
std::string CiphertextFromInput(std::string data);

// Wipes a string holding plaintext when it goes out of scope.
class ScopedWipe {
 public:
  explicit ScopedWipe(std::string& s) : s_(s) {}
  ~ScopedWipe();
  ScopedWipe(const ScopedWipe&) = delete;
  ScopedWipe& operator=(const ScopedWipe&) = delete;

 private:
  std::string& s_;
};

}  // namespace strongroom::cli

#endif  // STRONGROOM_CLI_IO_H_
