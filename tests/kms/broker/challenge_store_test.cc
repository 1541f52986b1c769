// ChallengeStore: single use, expiry, binding and principal checks, and the
// bounds on what it keeps.
#include "kms/broker/challenge_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "base/clock.h"
#include "base/testing/status_matchers.h"

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

}  // namespace
}  // namespace strongroom::kms
