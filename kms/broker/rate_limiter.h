// RateLimiter: per-client token buckets. Each principal may make `burst`
// calls at once and `rate_per_second` sustained; beyond that Acquire() is
// ResourceExhausted naming the retry delay. Buckets idle for a minute, and
// long enough to be full again, are dropped. rate_per_second <= 0 disables
// limiting.
//
// Thread-safe.
#ifndef STRONGROOM_KMS_BROKER_RATE_LIMITER_H_
#define STRONGROOM_KMS_BROKER_RATE_LIMITER_H_

#include <map>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "base/clock.h"

namespace strongroom::kms {

class RateLimiter {
 public:
  RateLimiter(const Clock& clock, double rate_per_second, double burst);
  absl::Status Acquire(absl::string_view principal);

 private:
  struct Bucket {
    double tokens;
    absl::Time updated;
  };
  const Clock& clock_;
  const double rate_;
  const double burst_;
  std::mutex mu_;
  std::map<std::string, Bucket, std::less<>> buckets_;
  absl::Time last_sweep_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_RATE_LIMITER_H_
