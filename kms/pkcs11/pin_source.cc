#include "kms/pkcs11/pin_source.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "base/file.h"

namespace strongroom::kms::pkcs11 {

bool IsEnvironmentVariableName(const std::string& name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

absl::StatusOr<SecretBytes> PinSource::Load() const {
  if (file.empty() == env_var.empty()) {
    return absl::InvalidArgumentError(
        "hsm PIN source: set exactly one of 'pin_file' or 'pin_env'");
  }
  if (!env_var.empty() && !IsEnvironmentVariableName(env_var)) {
    // The name is not echoed: a PIN typed where its variable's name belongs
    // must not reach a log.
    return absl::InvalidArgumentError(
        "hsm PIN source: 'pin_env' is not an environment variable name (upper-case letters, "
        "digits and '_', not starting with a digit)");
  }
  if (!env_var.empty()) {
    const char* value = std::getenv(env_var.c_str());
    if (value == nullptr || *value == '\0') {
      return absl::NotFoundError(absl::StrCat(
          "hsm PIN source: environment variable ", env_var, " is not set"));
    }
    return SecretBytes::CopyFrom(
        {reinterpret_cast<const uint8_t*>(value), std::strlen(value)});
  }
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    // The name is not echoed (this error goes to the log): it may be a PIN
    // written where the file's name belongs.
    return absl::NotFoundError(
        absl::StrCat("hsm PIN file (hsm.pin_file) cannot be opened: ", std::strerror(errno)));
  }
  struct stat st = {};
  if (fstat(fd, &st) != 0) {
    const int error = errno;
    close(fd);
    return absl::NotFoundError(
        absl::StrCat("hsm PIN file '", file, "' cannot be read: ", std::strerror(error)));
  }
  if (absl::Status s = CheckPrivateFileStat(st, file, "hsm PIN"); !s.ok()) {
    close(fd);
    return s;
  }
  if (st.st_size <= 0 || st.st_size > 256) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        "hsm PIN file '", file, "' has size ", st.st_size, " (expected 1..256 bytes)"));
  }
  SecretBytes buf(static_cast<size_t>(st.st_size));
  ssize_t n = read(fd, buf.RevealMutable().data(), buf.size());
  close(fd);
  if (n != st.st_size) {
    return absl::InternalError(absl::StrCat("hsm PIN file '", file, "': short read"));
  }
  size_t len = buf.size();
  while (len > 0 && (buf.Reveal()[len - 1] == '\n' || buf.Reveal()[len - 1] == '\r')) --len;
  if (len == 0) {
    return absl::InvalidArgumentError(absl::StrCat("hsm PIN file '", file, "' is empty"));
  }
  return SecretBytes::CopyFrom(buf.Reveal().first(len));
}

}  // namespace strongroom::kms::pkcs11
