#include "base/clock.h"

#include "absl/time/clock.h"

namespace strongroom {

absl::Time SystemClock::Now() const { return absl::Now(); }

const Clock& SystemClock::Default() {
  static const SystemClock* clock = new SystemClock();
  return *clock;
}

absl::Time FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

void FakeClock::Set(absl::Time t) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = t;
}

void FakeClock::Advance(absl::Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ += d;
}

}  // namespace strongroom
