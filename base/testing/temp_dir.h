// TempDir: a fresh directory for a test, <$TMPDIR or /tmp>/<prefix>-XXXXXX
// (mkdtemp, mode 0700), removed with everything in it when the TempDir goes.
#ifndef STRONGROOM_BASE_TESTING_TEMP_DIR_H_
#define STRONGROOM_BASE_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace strongroom::testing {

class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(absl::string_view prefix) {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string path = (base / absl::StrCat(prefix, "-XXXXXX")).string();
    if (mkdtemp(path.data()) == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("mkdtemp '", path, "': ", std::strerror(errno)));
    }
    return TempDir(std::move(path));
  }

  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, std::string())) {}
  TempDir& operator=(TempDir&& other) noexcept {
    if (this != &other) {
      Remove();
      path_ = std::exchange(other.path_, std::string());
    }
    return *this;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() { Remove(); }

  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  void Remove() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    path_.clear();
  }

  std::string path_;
};

}  // namespace strongroom::testing

#endif  // STRONGROOM_BASE_TESTING_TEMP_DIR_H_
