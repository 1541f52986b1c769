// ChallengeStore: single use, expiry, binding and principal checks, and the
// bounds on what it keeps.
#include "kms/broker/challenge_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "kms/broker/rate_limiter.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

constexpr auto kDenied = absl::StatusCode::kPermissionDenied;

TEST(ChallengeStoreTest, ANonceIsRedeemedOnceByItsPrincipalForItsBinding) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  ChallengeStore store(clock, absl::Seconds(60), 16);
  ASSERT_OK_AND_ASSIGN(Challenge c, store.Issue("w1", "keys/k"));
  EXPECT_EQ(c.nonce.size(), 32u);
  EXPECT_OK(store.Redeem(c.nonce, "w1", "keys/k", nullptr));
  EXPECT_THAT(store.Redeem(c.nonce, "w1", "keys/k", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_unknown")));
  // A wrong principal or binding uses the nonce up all the same.
  ASSERT_OK_AND_ASSIGN(c, store.Issue("w1", "keys/k"));
  EXPECT_THAT(store.Redeem(c.nonce, "w2", "keys/k", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_wrong_principal")));
  EXPECT_THAT(store.Redeem(c.nonce, "w1", "keys/k", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_unknown")));
  ASSERT_OK_AND_ASSIGN(c, store.Issue("w1", "keys/k"));
  EXPECT_THAT(store.Redeem(c.nonce, "w1", "keys/other", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_wrong_binding")));
  EXPECT_EQ(store.size(), 0u);
}

// Expired nonces are dropped when one is redeemed, not only when the next
// one is issued: after a burst nothing else may be issued for a long time.
TEST(ChallengeStoreTest, ExpiredNoncesGoWhenOneIsRedeemed) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  ChallengeStore store(clock, absl::Seconds(60), 16, 8);
  std::vector<Challenge> burst;
  for (int i = 0; i < 8; ++i) {
    ASSERT_OK_AND_ASSIGN(Challenge c, store.Issue("w1", "keys/k"));
    burst.push_back(std::move(c));
  }
  EXPECT_THAT(store.Issue("w1", "keys/k"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("outstanding")));
  clock.Advance(absl::Seconds(61));
  EXPECT_THAT(store.Redeem(burst[0].nonce, "w1", "keys/k", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_expired")));
  EXPECT_EQ(store.size(), 0u);
  // The principal's count went with them.
  for (int i = 0; i < 8; ++i) EXPECT_OK(store.Issue("w1", "keys/k").status());
}

// A nonce whose issue could not be recorded is withdrawn: it gives its place
// back at once and can never be redeemed.
TEST(ChallengeStoreTest, AWithdrawnNonceFreesItsPlace) {
  FakeClock clock(absl::FromUnixSeconds(1'800'000'000));
  ChallengeStore store(clock, absl::Seconds(60), 16, 2);
  ASSERT_OK_AND_ASSIGN(Challenge a, store.Issue("w1", "keys/k"));
  ASSERT_OK_AND_ASSIGN(Challenge b, store.Issue("w1", "keys/k"));
  EXPECT_THAT(store.Issue("w1", "keys/k"), StatusIs(absl::StatusCode::kResourceExhausted));
  store.Withdraw(b.nonce);
  store.Withdraw(b.nonce);  // twice is harmless
  EXPECT_EQ(store.size(), 1u);
  EXPECT_THAT(store.Redeem(b.nonce, "w1", "keys/k", nullptr),
              StatusIs(kDenied, HasSubstr("nonce_unknown")));
  EXPECT_OK(store.Issue("w1", "keys/k").status());
  EXPECT_OK(store.Redeem(a.nonce, "w1", "keys/k", nullptr));
}

// A principal idle for a minute gets back what it earned in that minute,
// not a whole burst: its bucket is dropped (a new one starts full) only once
// it would be full anyway.
TEST(RateLimiterTest, AnIdleMinuteDoesNotRefillALargeBurst) {
  FakeClock clock(absl::FromUnixSeconds(1'790'000'000));
  RateLimiter limiter(clock, /*rate_per_second=*/1, /*burst=*/1000);
  for (int i = 0; i < 1000; ++i) ASSERT_OK(limiter.Acquire("w1"));
  EXPECT_THAT(limiter.Acquire("w1"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("rate limit for 'w1'")));
  clock.Advance(absl::Seconds(61));
  ASSERT_OK(limiter.Acquire("w2"));  // a call by anyone sweeps idle buckets
  int granted = 0;
  while (limiter.Acquire("w1").ok()) ++granted;
  EXPECT_EQ(granted, 61);
  // Idle long enough to be full again: dropped, and a whole burst is right.
  clock.Advance(absl::Seconds(1001));
  ASSERT_OK(limiter.Acquire("w2"));
  granted = 0;
  while (limiter.Acquire("w1").ok()) ++granted;
  EXPECT_EQ(granted, 1000);
}

}  // namespace
}  // namespace strongroom::kms
