#include "storage/sealed/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"

namespace strongroom::storage::sealed {
namespace {

struct Armed {
  std::string point;
  uint64_t at = 1;
  std::atomic<uint64_t> hits{0};
};

// Parsed once; null when the variable is unset or malformed.
Armed* Arm() {
  const char* env = std::getenv("STRONGROOM_TEST_CRASH_AT");
  if (env == nullptr || *env == '\0') return nullptr;
  auto* armed = new Armed();
  std::string spec(env);
  const size_t at = spec.rfind('@');
  if (at != std::string::npos) {
    if (!absl::SimpleAtoi(spec.substr(at + 1), &armed->at) || armed->at == 0) {
      delete armed;
      return nullptr;
    }
    spec.resize(at);
  }
  armed->point = spec;
  return armed;
}

}  // namespace

void CrashPoint(absl::string_view point) {
  static Armed* const armed = Arm();
  if (armed == nullptr || point != armed->point) return;
  if (armed->hits.fetch_add(1) + 1 == armed->at) {
    static const char kMessage[] = "strongroomd: crash point reached, SIGKILL\n";
    (void)!write(2, kMessage, sizeof(kMessage) - 1);
    raise(SIGKILL);
  }
}

}  // namespace strongroom::storage::sealed
