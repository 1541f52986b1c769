// KeyBroker with dataset tokens (DatasetTokenTest): malformed object and
// upload key requests, the audit records of reads and uploads, and a store
// that fails or is not wired.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/kms/broker/dataset_token_fixture.h"

namespace strongroom::kms {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// A malformed token or public key is refused before any token check, with
// the field named and no audit record (as for ReleaseKey and GetDataKey).
TEST_F(DatasetTokenTest, MalformedObjectAndUploadKeyRequestsNameTheFieldAndAreNotAudited) {
  AddObject("ds", "x", 1);
  const std::string upload_id(32, 'a');
  dir_.uploads[upload_id] = {"ds", "out/y", 1, kWorkload.principal, true};
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  const std::string pk(AsStringView(w.keys.public_key.Serialize()));
  auto records = [&] {
    const std::string jsonl = AuditJsonl();
    size_t n = 0;
    for (size_t at = 0; (at = jsonl.find("\"type\":\"record\"", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  };
  const size_t records_before = records();
  ASSERT_GT(records_before, 0u);
  struct Case {
    std::string token, public_key, field;
  };
  for (const Case& c : {Case{"", pk, "token: empty"}, Case{token, "abc", "public_key: 3 bytes"},
                        Case{token, "", "public_key: 0 bytes"}}) {
    v1::GetObjectKeyRequest o;
    o.set_dataset("ds");
    o.set_name("x");
    o.set_token(c.token);
    o.set_public_key(c.public_key);
    EXPECT_THAT(broker_->GetObjectKey(kWorkload, o),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
    v1::GetUploadKeyRequest u;
    u.set_upload_id(upload_id);
    u.set_token(c.token);
    u.set_public_key(c.public_key);
    EXPECT_THAT(broker_->GetUploadKey(kWorkload, u),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.field)));
  }
  EXPECT_EQ(records(), records_before);
  // Well-formed, they pass.
  EXPECT_OK(ObjectKey(kWorkload, token, w.keys.public_key, "ds", "x").status());
}

TEST_F(DatasetTokenTest, ReadAndUploadDecisionsAreAudited) {
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string token, DatasetToken(kWorkload, w, "ds"));
  EXPECT_OK(broker_->AuthorizeWorkloadRead(kWorkload, token, "ds", "GetObject o@1"));
  EXPECT_OK(broker_->AuthorizeWorkloadWrite(kWorkload, token, "ds", "GetObject o@1"));
  EXPECT_FALSE(broker_->AuthorizeWorkloadRead(kWorkload, "garbage", "ds", "GetObject o@1").ok());
  const std::string jsonl = AuditJsonl();
  int reads = 0, uploads = 0, denied_reads = 0;
  for (absl::string_view line : absl::StrSplit(jsonl, '\n')) {
    if (!absl::StrContains(line, "\"datasets/ds\"")) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.contains("action")) continue;
    if (j["action"] == "read" && j["decision"] == "allow") ++reads;
    if (j["action"] == "read" && j["decision"] == "deny") ++denied_reads;
    if (j["action"] == "upload" && j["decision"] == "allow") ++uploads;
  }
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(uploads, 1);
  EXPECT_EQ(denied_reads, 1);
  // The token never enters the log.
  EXPECT_THAT(jsonl, Not(HasSubstr(token.substr(0, 40))));
}

// A store that fails to answer after the nonce was spent: the refusal is in
// the log (it follows the challenge's record), told as UNAVAILABLE so the
// workload tries again with a new challenge; the spent nonce stays spent.
TEST_F(DatasetTokenTest, AStoreErrorAfterTheNonceIsSpentIsRecorded) {
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "datasets/ds"));
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  dir_.fail_lookups = absl::UnavailableError("IO error: injected read failure");
  ASSERT_OK(audit_->Flush());  // the challenge's record
  const uint64_t before = audit_->head().sequence;
  EXPECT_THAT(
      AttestWith(kWorkload, w, nonce, item, "datasets/ds"),
      StatusIs(absl::StatusCode::kUnavailable, HasSubstr("refused: store_unavailable (audit ")));
  ASSERT_EQ(audit_->head().sequence, before + 1);
  std::ostringstream out;
  ASSERT_OK(audit_->Export(before + 1, out));
  EXPECT_THAT(out.str(), HasSubstr("\"reason_id\":\"store_unavailable\""));
  EXPECT_THAT(out.str(), HasSubstr("injected read failure"));
  dir_.fail_lookups = absl::OkStatus();
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "datasets/ds"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("nonce_unknown")));
  EXPECT_OK(DatasetToken(kWorkload, w, "ds").status());
}

TEST_F(DatasetTokenTest, WithoutTheStoreDatasetRequestsFail) {
  ASSERT_OK_AND_ASSIGN(Workload w, NewWorkload());
  ASSERT_OK_AND_ASSIGN(std::string nonce, Challenge(kWorkload, "datasets/ds"));
  ASSERT_OK_AND_ASSIGN(v1::EvidenceItem item, Evidence(w, nonce, kGoodMeasurement));
  broker_->SetDatasetDirectory(nullptr);
  EXPECT_THAT(AttestWith(kWorkload, w, nonce, item, "datasets/ds"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not wired")));
  // Said before the nonce is spent: with the store back, it still works.
  broker_->SetDatasetDirectory(&dir_);
  EXPECT_OK(AttestWith(kWorkload, w, nonce, item, "datasets/ds").status());
  broker_->SetDatasetDirectory(nullptr);
  EXPECT_THAT(DatasetToken(kWorkload, w, "ds"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not wired")));
  // Keys are unaffected.
  EXPECT_OK(Token(kWorkload, w).status());
}

}  // namespace
}  // namespace strongroom::kms
