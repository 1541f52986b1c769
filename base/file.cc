#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace strongroom {

absl::StatusOr<std::string> ReadFileToString(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(what, ": file '", path, "' cannot be read"));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

absl::Status CheckPrivateFileMode(const std::string& path, absl::string_view what) {
  struct stat st = {};
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat(what, ": file '", path, "' cannot be read: ", std::strerror(errno)));
  }
  return CheckPrivateFileStat(st, path, what);
}

absl::Status CheckPrivateFileStat(const struct stat& st, const std::string& path,
                                  absl::string_view what) {
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": '", path, "' is not a regular file"));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": file '", path, "' has mode ", mode,
                     ": it must not be accessible by group or others (chmod 600)"));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data, mode_t mode,
                                 absl::string_view what) {
  std::string temp = path + ".partial-XXXXXX";
  const int fd = mkstemp(temp.data());
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat(what, ": cannot write '", path, "': ", std::strerror(errno)));
  }
  const char* failed = nullptr;  // the first step that failed, with its errno
  int error = 0;
  auto check = [&](bool ok, const char* step) {
    if (!ok && failed == nullptr) {
      failed = step;
      error = errno;
    }
  };
  for (size_t done = 0; failed == nullptr && done < data.size();) {
    const ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    check(n >= 0, "write");
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (failed == nullptr) check(fchmod(fd, mode) == 0, "chmod");
  if (failed == nullptr) check(fsync(fd) == 0, "fsync");
  check(close(fd) == 0, "close");
  if (failed == nullptr) check(rename(temp.c_str(), path.c_str()) == 0, "rename");
  if (failed != nullptr) {
    unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat(what, ": cannot write '", path, "': ", failed, ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

}  // namespace strongroom
