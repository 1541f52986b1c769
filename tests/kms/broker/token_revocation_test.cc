// When a token stops being honoured: reference values or the key's policy
// binding changed, the policy deleted, an admin's revocation by id (kept
// across restarts, damaged records included; unreadable ones refuse every
// token), a token issued under a longer token_ttl than the broker has now.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "kms/broker/key_broker.h"
#include "storage/testing/fault_env.h"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

class TokenRevocationTest : public BrokerFixture {};

TEST_F(TokenRevocationTest, ReferenceValueChangesApplyToTheNextDecision) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  // The set is resolved while this is refused.
  EXPECT_THAT(Token(kWorkload, w, kBadMeasurement),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  PutApprovedValues({kGoodMeasurement, kBadMeasurement});
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w, kBadMeasurement));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  v1::DeleteReferenceValuesRequest del;
  del.set_name("approved");
  ASSERT_OK(admin_->DeleteReferenceValues(kAdmin, del).status());
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("token_revoked_reference_values_changed")));
  EXPECT_THAT(Token(kWorkload, w),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("policy_denied")));
  // Put back (version 1 of a new set): good evidence passes again.
  PutApprovedValues();
  ASSERT_OK_AND_ASSIGN(token, Token(kWorkload, w));
  EXPECT_OK(Release(kWorkload, token, w.keys.public_key).status());
}

TEST_F(TokenRevocationTest, TokenIsRevokedWhenReferenceValuesOrPolicyBindingChange) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  PutApprovedValues({kGoodMeasurement, kBadMeasurement});
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("token_revoked_reference_values_changed")));
  // A fresh token under the new set works; re-binding the key's policy
  // revokes it in turn.
  ASSERT_OK_AND_ASSIGN(token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  v1::PutPolicyRequest pol;
  pol.set_name("p");
  pol.set_policy_json(R"({"version": 1, "tee": ["dev"], "require": {"claim": "dev.debug", "equals": false}})");
  ASSERT_OK(admin_->PutPolicy(kAdmin, pol).status());
  // Editing the policy document does not change what the key is bound to.
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  v1::UpdateKeyRequest up;
  up.set_name("keys/k");
  up.add_update_mask("release_policy");
  up.set_release_policy("policies/p");
  ASSERT_OK_AND_ASSIGN(auto changed, km_->UpdateKey(kOwner, up));
  EXPECT_EQ(changed.key().release_policy_version(), 2);
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("token_revoked_policy_changed")));
}

TEST_F(TokenRevocationTest, AdminRevokesATokenById) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
  v1::RevokeTokenRequest r;
  r.set_token_id(released.sealed().token_id());
  EXPECT_THAT(broker_->RevokeToken(kOwner, r), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK(broker_->RevokeToken(kAdmin, r).status());
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
  // A restart (a new broker on the same database) does not forget it.
  MakeBroker(BrokerOptions{});
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
  // Once the token has expired the entry stays (below kept_revocations);
  // only past that many are expired ones dropped.
  clock_.Set(clock_.Now() + absl::Minutes(6));
  ASSERT_OK_AND_ASSIGN(auto active, admin_->ActiveRevocations(clock_.Now(), kKeptRevocations));
  EXPECT_EQ(active.size(), 1u);
  ASSERT_OK_AND_ASSIGN(active, admin_->ActiveRevocations(clock_.Now(), 0));
  EXPECT_TRUE(active.empty());
  ASSERT_OK_AND_ASSIGN(active, admin_->ActiveRevocations(clock_.Now(), kKeptRevocations));
  EXPECT_TRUE(active.empty());  // deleted from the database
  r.set_token_id("NOT-HEX-0123456789abcdef01234567");
  EXPECT_THAT(broker_->RevokeToken(kAdmin, r), StatusIs(absl::StatusCode::kInvalidArgument));
  // A whole token pasted as the id: refused, and the chain holds only its
  // digest (request and refusal), never the token.
  r.set_token_id(token);
  EXPECT_THAT(broker_->RevokeToken(kAdmin, r), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK(audit_->Flush());
  std::ostringstream out;
  ASSERT_OK(audit_->Export(1, out));
  EXPECT_THAT(out.str(), Not(HasSubstr(token.substr(0, 40))));
  EXPECT_THAT(out.str(), HasSubstr(AuditDigest(AsBytes(token))));
}

// A clock stepped back between a token's issue and its revocation: the
// entry is kept as long as the token can still be accepted (its iat may be
// up to the leeway ahead of the revoking clock), so it stays revoked.
TEST_F(TokenRevocationTest, ARevocationOutlivesItsTokenWhenTheClockSteppedBack) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  const absl::Time issued = clock_.Now();
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
  clock_.Set(issued - absl::Seconds(50));
  v1::RevokeTokenRequest r;
  r.set_token_id(released.sealed().token_id());
  ASSERT_OK(broker_->RevokeToken(kAdmin, r).status());
  clock_.Set(issued + absl::Minutes(5) - absl::Seconds(20));  // the token has 20 s left
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
}

// A clock stepped forward past the token's expiry and then set back: the
// token is unexpired again, and still revoked, in the same process and
// after a restart made while the clock was ahead.
TEST_F(TokenRevocationTest, ARevocationSurvivesAClockSteppedForwardAndBack) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
  v1::RevokeTokenRequest r;
  r.set_token_id(released.sealed().token_id());
  ASSERT_OK(broker_->RevokeToken(kAdmin, r).status());
  const absl::Time revoked = clock_.Now();
  clock_.Set(revoked + absl::Hours(24));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_expired")));
  clock_.Set(revoked + absl::Minutes(1));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
  clock_.Set(revoked + absl::Hours(24));
  MakeBroker(BrokerOptions{});  // loads the revocations with the clock ahead
  clock_.Set(revoked + absl::Minutes(1));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
}

// Past kept_revocations, expired entries go, earliest expiry first, on disk
// at start and in memory as new ones come; unexpired ones never do.
TEST_F(TokenRevocationTest, PastTheKeptCountExpiredRevocationsGoEarliestFirst) {
  const absl::Time t0 = clock_.Now();
  ASSERT_OK(admin_->PutRevocation("00000000000000000000000000000001", t0 + absl::Minutes(1)));
  ASSERT_OK(admin_->PutRevocation("00000000000000000000000000000002", t0 + absl::Minutes(3)));
  ASSERT_OK(admin_->PutRevocation("00000000000000000000000000000003", t0 + absl::Minutes(2)));
  ASSERT_OK(admin_->PutRevocation("00000000000000000000000000000004", t0 + absl::Minutes(9)));
  ASSERT_OK_AND_ASSIGN(auto kept, admin_->ActiveRevocations(t0 + absl::Minutes(5), 2));
  EXPECT_THAT(kept, ::testing::ElementsAre(::testing::Key("00000000000000000000000000000002"),
                                           ::testing::Key("00000000000000000000000000000004")));
  // None expired: all stay, over the count.
  ASSERT_OK_AND_ASSIGN(kept, admin_->ActiveRevocations(t0, 1));
  EXPECT_EQ(kept.size(), 2u);
  std::map<std::string, absl::Time> in_memory = {
      {"a", t0 + absl::Minutes(2)}, {"b", t0 + absl::Minutes(1)}, {"c", t0 + absl::Minutes(7)}};
  TrimExpiredRevocations(in_memory, t0 + absl::Minutes(5), 1);
  EXPECT_THAT(in_memory, ::testing::ElementsAre(::testing::Key("c")));
  in_memory = {{"a", t0 + absl::Minutes(2)}, {"b", t0 + absl::Minutes(1)}};
  TrimExpiredRevocations(in_memory, t0 + absl::Minutes(5), 2);
  EXPECT_EQ(in_memory.size(), 2u);
  // Past the count, down to 90% of it at once, the latest expiries kept.
  in_memory.clear();
  for (int i = 0; i < 12; ++i) in_memory[absl::StrCat("t", i)] = t0 + absl::Seconds(i);
  TrimExpiredRevocations(in_memory, t0 + absl::Minutes(5), 10);
  EXPECT_EQ(in_memory.size(), 9u);
  EXPECT_FALSE(in_memory.contains("t2"));
  EXPECT_TRUE(in_memory.contains("t3"));
}

// A revocation whose stored expiry is damaged still revokes (kept for the
// longest a token lives) rather than being dropped as expired.
TEST_F(TokenRevocationTest, ADamagedRevocationStillRevokes) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
  ASSERT_OK(db_->Put(absl::StrCat("attest/revoked/", released.sealed().token_id()), "garbled"));
  MakeBroker(BrokerOptions{});
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
}

// Deleting the policy a key's binding names stops releases under tokens
// already issued, at once (as it does for datasets and reference values).
TEST_F(TokenRevocationTest, AKeyTokenStopsWhenItsPolicyIsDeleted) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  v1::DeletePolicyRequest del;
  del.set_name("policies/p");
  ASSERT_OK(admin_->DeletePolicy(kAdmin, del).status());
  EXPECT_THAT(
      Release(kWorkload, token, w.keys.public_key),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked_policy_changed")));
}

// A token issued under a longer token_ttl than the broker has now is
// refused: revocations are kept only for the current ttl, so one made now
// would otherwise lapse before such a token expires.
TEST_F(TokenRevocationTest, ATokenLongerLivedThanTheTtlIsRefused) {
  MakeReleasableKey();
  BrokerOptions long_lived;
  long_lived.token_ttl = absl::Hours(1);
  MakeBroker(long_lived);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  MakeBroker(BrokerOptions{});  // 5 minutes
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_invalid")));
}

// A token_ttl with a fraction of a second: a token issued late in a second
// has an `exp` one whole second past `iat` + the ttl's whole seconds, and is
// still its own ttl's token (it was refused as token_invalid).
TEST_F(TokenRevocationTest, ATtlWithAFractionOfASecondIssuesUsableTokens) {
  MakeReleasableKey();
  BrokerOptions fractional;
  fractional.token_ttl = absl::Milliseconds(90500);
  MakeBroker(fractional);
  clock_.Advance(absl::Milliseconds(700));
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  EXPECT_OK(Release(kWorkload, token, w.keys.public_key).status());
}

// The stored revocations cannot be read when the broker starts (the disk
// refuses): no token is honoured, since any of them might be revoked, until
// a later check reads them.
class UnreadableRevocationsTest : public BrokerFixture {
 protected:
  void SetUp() override {
    db_env_ = faults_.env();
    BrokerFixture::SetUp();
  }
  storage::testing::FaultEnv faults_;
};

TEST_F(UnreadableRevocationsTest, EveryTokenIsRefusedUntilTheyCanBeRead) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  ASSERT_OK(db_->CompactAll());  // from here on the revocations are read from files
  faults_.FailReads(true);
  MakeBroker(BrokerOptions{});
  EXPECT_GT(faults_.Refused(), 0);
  EXPECT_THAT(
      Release(kWorkload, token, w.keys.public_key),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revocations_unreadable")));
  // A failed read is tried again a second later, not by every check (each
  // would scan the database under the lock every token check takes).
  const int refused = faults_.Refused();
  EXPECT_THAT(
      Release(kWorkload, token, w.keys.public_key),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revocations_unreadable")));
  EXPECT_EQ(faults_.Refused(), refused);
  faults_.FailReads(false);
  EXPECT_THAT(
      Release(kWorkload, token, w.keys.public_key),
      StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revocations_unreadable")));
  clock_.Advance(absl::Seconds(1));
  EXPECT_OK(Release(kWorkload, token, w.keys.public_key).status());
}

}  // namespace
}  // namespace strongroom::kms
