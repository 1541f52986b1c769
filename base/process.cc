#include "base/process.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace strongroom {

absl::Status DisableCoreDumps() {
  struct rlimit limit = {0, 0};
  if (setrlimit(RLIMIT_CORE, &limit) != 0) {
    return absl::InternalError(
        absl::StrCat("setrlimit(RLIMIT_CORE, 0) failed: ", std::strerror(errno)));
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return absl::InternalError(
        absl::StrCat("prctl(PR_SET_DUMPABLE, 0) failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

bool CoreDumpsDisabled() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_CORE, &limit) != 0) return false;
  return limit.rlim_cur == 0 && limit.rlim_max == 0 &&
         prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
}

}  // namespace strongroom
