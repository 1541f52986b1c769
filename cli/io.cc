#include "cli/io.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "cli/command.h"
#include "cli/object_io.h"

namespace strongroom::cli {
namespace {

bool IsStdio(const std::string& path) { return path.empty() || path == "-"; }

}  // namespace

bool NamesStdout(const std::string& path) {
  return IsStdio(path) || path == "/dev/stdout" || path == "/dev/fd/1" || path == "/proc/self/fd/1";
}

std::string RegularFileId(const std::string& path, bool is_input) {
  struct stat st = {};
  const int r = is_input && IsStdio(path)        ? fstat(STDIN_FILENO, &st)
                : !is_input && NamesStdout(path) ? fstat(STDOUT_FILENO, &st)
                                                 : stat(path.c_str(), &st);
  if (r != 0 || !S_ISREG(st.st_mode)) return "";
  return absl::StrCat(st.st_dev, ":", st.st_ino);
}

absl::Status IoError(absl::string_view what, const std::string& flag, const std::string& path) {
  return absl::Status(absl::StatusCode::kUnavailable,
                      absl::StrCat("--", flag, ": cannot ", what, " '", IsStdio(path) ? "-" : path,
                                   "': ", std::strerror(errno)));
}

bool SameFile(const std::string& in, const std::string& out) {
  const std::string id = RegularFileId(in, /*is_input=*/true);
  return !id.empty() && id == RegularFileId(out, /*is_input=*/false);
}

namespace {

bool IsBase64Char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

absl::Status CheckOutputPath(absl::string_view name, const std::string& path) {
  if (NamesStdout(path)) return absl::OkStatus();
  struct stat st = {};
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return UsageError(absl::StrCat(name, ": '", path, "' is a folder; give a file"));
    }
    // A device or a pipe (/dev/null, a FIFO, /dev/fd/N) is written in place
    // (WriteOutput), whatever its folder allows.
    if (!S_ISREG(st.st_mode)) {
      if (access(path.c_str(), W_OK) == 0) return absl::OkStatus();
      return UsageError(absl::StrCat(name, ": cannot write '", path, "': ", std::strerror(errno)));
    }
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  if (access(dir.c_str(), W_OK | X_OK) != 0) {
    return UsageError(absl::StrCat(name, ": cannot write '", path, "': the folder '", dir.string(),
                                   "' does not exist or is not writable"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadInput(const std::string& flag, const std::string& path,
                                      size_t max_bytes) {
  int fd = IsStdio(path) ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return LocalError(IoError("read", flag, path));
  std::string data;
  // Sized up front where possible so that no copy of the bytes is left behind
  // in a buffer the string outgrew.
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) <= max_bytes) {
    data.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[16384];
  // Every way out before the end: the file closed, what was read wiped.
  const auto give_up = [&](const absl::Status& s) {
    if (fd != STDIN_FILENO) close(fd);
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(data.data(), data.size());
    return LocalError(s);
  };
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return give_up(IoError("read", flag, path));
    if (n == 0) break;
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      return give_up(absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": ", IsStdio(path) ? "stdin" : absl::StrCat("'", path, "'"),
                       " holds more than ", max_bytes, " bytes")));
    }
    if (data.size() + static_cast<size_t>(n) > data.capacity()) {
      // Outgrown (a pipe, whose size is not known up front): the bytes move
      // to a larger buffer by hand, so that the one left behind is wiped
      // rather than freed with the plaintext in it.
      std::string bigger;
      bigger.reserve(
          std::min(max_bytes, std::max(data.capacity() * 2, data.size() + static_cast<size_t>(n))));
      bigger.append(data);
      OPENSSL_cleanse(data.data(), data.size());
      data.swap(bigger);
    }
    data.append(buf, static_cast<size_t>(n));
  }
  OPENSSL_cleanse(buf, sizeof buf);
  if (fd != STDIN_FILENO) close(fd);
  return data;
}

absl::Status WriteOutput(const std::string& flag, const std::string& path, absl::string_view data) {
  auto write_all = [&](int fd) -> bool {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  };
  if (NamesStdout(path)) {
    // Straight to the descriptor, after whatever stdio holds: the data may
    // be key material, and stdio's buffer would keep a copy nobody wipes.
    if (std::fflush(stdout) != 0 || !write_all(STDOUT_FILENO)) {
      return IoError("write", flag, path);
    }
    return absl::OkStatus();
  }
  struct stat st = {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // A device or a pipe (/dev/null, a FIFO): written as it is.
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return IoError("write", flag, path);
    const bool ok = write_all(fd);
    if (close(fd) != 0 || !ok) return IoError("write", flag, path);
    return absl::OkStatus();
  }
  // A file: written whole to a new 0600 file next to it, then renamed over
  // it, so a failure leaves no partial output and an existing file's mode
  // (say 0644) does not carry over to what may be a secret; and, as
  // `object get`'s OUT, the partial file goes if SIGINT, SIGTERM or SIGHUP
  // ends the command while it is written (OutputFile).
  absl::StatusOr<OutputFile> out = OutputFile::Open(path, absl::StrCat("--", flag));
  if (!out.ok() || !write_all(out->fd()) || !out->Commit().ok()) {
    return IoError("write", flag, path);
  }
  return absl::OkStatus();
}

std::string CiphertextFromInput(std::string data) {
  if (absl::StartsWith(data, "SRC1")) return data;
  std::string text;
  for (char c : data) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    text.push_back(c);
  }
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  if (text.empty() || text.size() % 4 != 0) return data;
  for (size_t i = 0; i + pad < text.size(); ++i) {
    if (!IsBase64Char(text[i])) return data;
  }
  std::string decoded;
  if (!absl::Base64Unescape(text, &decoded)) return data;
  return decoded;
}

ScopedWipe::~ScopedWipe() { OPENSSL_cleanse(s_.data(), s_.size()); }

}  // namespace strongroom::cli
