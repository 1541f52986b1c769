// Clock: the source of "now" for everything that depends on time (TTLs,
// certificate validity, lifecycle deadlines), so tests can pin time.
//
// Thread-safe: SystemClock is stateless; FakeClock guards its time with a mutex.
#ifndef STRONGROOM_BASE_CLOCK_H_
#define STRONGROOM_BASE_CLOCK_H_

#include <mutex>

#include "absl/time/time.h"

namespace strongroom {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time from the OS.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override;
  // A process-wide instance (never destroyed).
  static const Clock& Default();
};

// A clock that only moves when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override;
  void Set(absl::Time t);
  void Advance(absl::Duration d);

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace strongroom

#endif  // STRONGROOM_BASE_CLOCK_H_
