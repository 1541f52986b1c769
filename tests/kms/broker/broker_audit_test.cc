// The key broker and its audit chain: every decision and admin change
// recorded, in order, before it takes effect, and what happens when the
// log cannot write.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <sstream>

#include "absl/strings/str_split.h"
#include "kms/audit/export_verifier.h"
#include "kms/broker/key_broker.h"
#include "nlohmann/json.hpp"
#include "tests/kms/broker/broker_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class BrokerAuditTest : public BrokerFixture {
 protected:
  // A new audit log and broker over the same database, whose writes fail
  // while `*fail` is set.
  void UseAuditWithFailingWrites(const std::atomic<bool>* fail) {
    broker_.reset();
    audit_.reset();
    AuditOptions options{.checkpoint_every = 5};
    options.write_batch_for_testing = [this, fail](rocksdb::WriteBatch& batch) -> absl::Status {
      if (fail->load()) return absl::UnavailableError("injected write failure");
      return db_->Write(batch);
    };
    ASSERT_OK_AND_ASSIGN(audit_, AuditLog::Create(*db_, checkpoint_signer_.get(), clock_, options));
    MakeBroker(BrokerOptions{});
  }

  // The actions and decisions of the exported records after `after`.
  std::vector<std::string> ExportedActionsAfter(uint64_t after) {
    std::ostringstream out;
    EXPECT_OK(audit_->Export(1, out));
    std::vector<std::string> actions;
    for (absl::string_view line : absl::StrSplit(out.str(), '\n', absl::SkipEmpty())) {
      nlohmann::json j = nlohmann::json::parse(line);
      if (j["type"] == "record" && j["sequence"].get<uint64_t>() > after) {
        actions.push_back(
            absl::StrCat(j["action"].get<std::string>(), ":", j["decision"].get<std::string>()));
      }
    }
    return actions;
  }
};

// An admin change is recorded before it takes effect: its request, synced,
// then what became of it (applied, or refused with why). A request the log
// cannot record is not carried out: UNAVAILABLE, and nothing changed.
TEST_F(BrokerAuditTest, AdminChangesAreRecordedBeforeTheyTakeEffect) {
  std::atomic<bool> fail_writes{false};
  UseAuditWithFailingWrites(&fail_writes);
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK_AND_ASSIGN(auto released, Release(kWorkload, token, w.keys.public_key));
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(released.sealed().token_id());

  fail_writes = true;
  EXPECT_THAT(broker_->RevokeToken(kAdmin, revoke),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("revoke_token: not carried out: the audit log could not record")));
  fail_writes = false;
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status()) << "revoked all the same";

  size_t seen = ExportedActionsAfter(0).size();
  auto added = [&] {
    std::vector<std::string> all = ExportedActionsAfter(0);
    std::vector<std::string> fresh(all.begin() + static_cast<std::ptrdiff_t>(seen), all.end());
    seen = all.size();
    return fresh;
  };
  v1::RevokeTokenRequest bad;
  bad.set_token_id("not hex");
  EXPECT_THAT(broker_->RevokeToken(kAdmin, bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(added(), ::testing::ElementsAre("revoke_token:info", "revoke_token:deny"));
  std::ostringstream exported;
  ASSERT_OK(audit_->Export(1, exported));
  EXPECT_THAT(exported.str(), HasSubstr("\"reason_id\":\"admin.requested\""));
  EXPECT_THAT(exported.str(), HasSubstr("\"reason_id\":\"admin.refused.invalid_argument\""));

  ASSERT_OK(broker_->RevokeToken(kAdmin, revoke).status());
  EXPECT_THAT(added(), ::testing::ElementsAre("revoke_token:info", "revoke_token:info"));
  EXPECT_THAT(Release(kWorkload, token, w.keys.public_key),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("token_revoked")));
  seen = ExportedActionsAfter(0).size();

  // Workloads and auditors make no admin changes: refused by the change's
  // own check, without filling the chain with requests.
  EXPECT_THAT(broker_->RevokeToken(kWorkload, revoke),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(added(), ::testing::IsEmpty());
}

// A challenge's record is appended without waiting for its write; Attest
// redeems the nonce only while that record is durable or on its way, and its
// own synced record then follows it in the log.
TEST_F(BrokerAuditTest, AChallengeWhoseRecordWasNotWrittenIsNotRedeemed) {
  MakeReleasableKey();
  std::atomic<bool> fail_writes{false};
  UseAuditWithFailingWrites(&fail_writes);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());

  // The challenge's record is not durable when the nonce is handed out; the
  // attest record's write carries both, challenge first.
  const uint64_t before = audit_->head().sequence;
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  EXPECT_EQ(audit_->head().sequence, before);
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  ASSERT_OK(AttestWith(kWorkload, w, nonce, item).status());
  EXPECT_EQ(audit_->head().sequence, before + 2);

  // A challenge whose record's write failed.
  auto unwritten_challenge = [&]() -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(std::string n, Challenge(kWorkload));
    fail_writes = true;
    EXPECT_FALSE(audit_->Flush().ok());
    fail_writes = false;
    return n;
  };
  // The write carrying a challenge's record fails: its nonce is refused,
  // and no attest record or token follows.
  ASSERT_OK_AND_ASSIGN(nonce, unwritten_challenge());
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("was not written")));
  EXPECT_EQ(audit_->head().sequence, before + 2);
  // A refusal is not recorded for such a nonce either: no denial follows a
  // challenge that has no record.
  ASSERT_OK_AND_ASSIGN(nonce, unwritten_challenge());
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kBadMeasurement));
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("refused: policy_denied (audit log unavailable)")));
  EXPECT_EQ(audit_->head().sequence, before + 2);
  // Used up all the same; a new challenge works.
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_unknown")));
  ASSERT_OK(Token(kWorkload, w).status());
  EXPECT_THAT(ExportedActionsAfter(before),
              ElementsAre("challenge:allow", "attest:allow", "attest:deny", "challenge:allow",
                          "attest:allow"));
}

// In an Attest with `release` the attest record is appended unsynced and the
// release record's synced write carries it (and the challenge's): when that
// write fails, the call returns neither a token nor a sealed key, and none
// of the three records is stored.
TEST_F(BrokerAuditTest, AnAttestWithReleaseWhoseRecordsWereNotWrittenReturnsNothing) {
  MakeReleasableKey();
  std::atomic<bool> fail_writes{false};
  UseAuditWithFailingWrites(&fail_writes);
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  const uint64_t before = audit_->head().sequence;
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  fail_writes = true;
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("injected")));
  fail_writes = false;
  EXPECT_EQ(audit_->head().sequence, before);
  EXPECT_THAT(ExportedActionsAfter(before), ::testing::IsEmpty());

  // The next flow is whole again, and its records are the only ones after.
  ASSERT_OK_AND_ASSIGN(nonce, Challenge(kWorkload));
  ASSERT_OK_AND_ASSIGN(item, Evidence(w, nonce, kGoodMeasurement));
  ASSERT_OK_AND_ASSIGN(v1::AttestResponse both,
                       AttestWith(kWorkload, w, nonce, item, "keys/k", "keys/k"));
  EXPECT_FALSE(both.token().empty());
  ASSERT_TRUE(both.has_sealed());
  EXPECT_OK(Open(both.sealed(), w.keys.private_key).status());
  EXPECT_THAT(ExportedActionsAfter(before),
              ElementsAre("challenge:allow", "attest:allow", "release:allow"));
}

// Every decision (challenge, attest, release, denial) is in the chain, the
// export verifies, and one edited byte is found with its sequence.
TEST_F(BrokerAuditTest, AuditLogRecordsEveryDecisionAndDetectsEdits) {
  MakeReleasableKey();
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, Token(kWorkload, w));
  ASSERT_OK(Release(kWorkload, token, w.keys.public_key).status());
  EXPECT_FALSE(Token(kWorkload, w, kBadMeasurement).ok());
  std::ostringstream out;
  ASSERT_OK(audit_->Export(1, out));
  const std::string jsonl = out.str();
  for (const char* action : {"\"challenge\"", "\"attest\"", "\"release\"", "policy_denied"}) {
    EXPECT_THAT(jsonl, HasSubstr(action));
  }
  // The attest and release records carry the evidence's and the policy's
  // digests, and the release the key version it released.
  nlohmann::json attest_record, release_record;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j.value("type", "") != "record" || j.value("decision", "") != "allow") continue;
    if (j.value("action", "") == "attest") attest_record = j;
    if (j.value("action", "") == "release") release_record = j;
  }
  ASSERT_TRUE(attest_record.is_object() && release_record.is_object()) << jsonl;
  const std::string evidence = attest_record.value("evidence_digest", "");
  EXPECT_THAT(evidence, ::testing::MatchesRegex("(sha256:)?[0-9a-f]{64}")) << attest_record;
  EXPECT_EQ(release_record.value("evidence_digest", ""), evidence) << release_record;
  EXPECT_THAT(attest_record.value("policy_digest", ""),
              ::testing::MatchesRegex("(sha256:)?[0-9a-f]{64}"))
      << attest_record;
  EXPECT_EQ(release_record.value("policy_digest", ""), attest_record.value("policy_digest", ""));
  EXPECT_EQ(release_record.value("key_version", uint64_t{0}), 1u) << release_record;
  // Admin changes made through the admin API are in the same chain when
  // the server wires the observer; here the broker records them directly.
  broker_->AuditAdminChange(kAdmin, "put_policy", "policies/p", "version 1");
  std::ostringstream out2;
  ASSERT_OK(audit_->Export(1, out2));
  std::istringstream in(out2.str());
  VerifyExportOptions trusted{{checkpoint_signer_->PublicKeyPem()}};
  AuditVerifyResult ok = VerifyExport(in, trusted);
  EXPECT_TRUE(ok.ok) << ok.reason;
  EXPECT_EQ(ok.records, 6u);  // challenge, attest, release, challenge, denial, admin change
  // The token itself and the key material never enter the log.
  EXPECT_THAT(out2.str(), ::testing::Not(HasSubstr(token.substr(0, 40))));
  // One edited byte in a record is detected, naming its sequence.
  std::string edited = out2.str();
  size_t pos = edited.find("policy_denied");
  ASSERT_NE(pos, std::string::npos);
  edited[pos] = 'P';
  std::istringstream bad(edited);
  AuditVerifyResult broken = VerifyExport(bad, trusted);
  EXPECT_FALSE(broken.ok);
  EXPECT_GT(broken.first_bad_sequence, 0u);
}

}  // namespace
}  // namespace strongroom::kms
