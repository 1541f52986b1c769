#include "kms/broker/rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strongroom::kms {

RateLimiter::RateLimiter(const Clock& clock, double rate_per_second,
                         double burst)
    : clock_(clock),
      rate_(rate_per_second),
      burst_(std::max(1.0, burst)),
      last_sweep_(clock.Now()) {}

absl::Status RateLimiter::Acquire(absl::string_view principal) {
  if (rate_ <= 0) return absl::OkStatus();
  absl::Time now = clock_.Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (now - last_sweep_ > absl::Minutes(1)) {
    // A bucket is dropped only once it would be full again (idle for at
    // least burst / rate): a new one starts full, so dropping one sooner
    // would hand its principal a whole burst early.
    const absl::Duration refill = absl::Seconds(burst_ / rate_);
    const absl::Duration idle = std::max(absl::Minutes(1), refill);
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      it = now - it->second.updated > idle ? buckets_.erase(it) : std::next(it);
    }
    last_sweep_ = now;
  }
  auto it = buckets_.find(principal);
  if (it == buckets_.end()) {
    it = buckets_.emplace(std::string(principal), Bucket{burst_, now}).first;
  }
  Bucket& b = it->second;
  double elapsed = absl::ToDoubleSeconds(now - b.updated);
  b.tokens = std::min(burst_, b.tokens + std::max(0.0, elapsed) * rate_);
  b.updated = now;
  if (b.tokens < 1.0) {
    double wait_ms = (1.0 - b.tokens) / rate_ * 1000.0;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "rate limit for '%s' exceeded (%.0f/s, burst %.0f); retry in %.0f ms",
        principal, rate_, burst_, wait_ms));
  }
  b.tokens -= 1.0;
  return absl::OkStatus();
}

}  // namespace strongroom::kms
