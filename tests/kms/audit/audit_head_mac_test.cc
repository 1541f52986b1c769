// The audit log's head MAC (AuditOptions::head_mac_key) at start-up: what a
// change of the stored tail, a MAC of another key, an earlier head's MAC, a
// planted checkpoint key or a removed MAC make of the next start.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kms/audit/audit_json.h"
#include "kms/audit/audit_storage.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

// With a head MAC key (strongroomd's, from the HSM), the records past the
// last checkpoint are protected while the server is down too: changing or
// adding them, or a MAC made with another key, fails the next start, as a
// broken chain does; an intact tail is noted as verified. What it cannot
// catch, a rollback to an earlier head with that head's MAC, is pinned too.
class AuditHeadMacTest : public AuditRecoveryTest {
 protected:
  void SetUp() override {
    options_.head_mac_key = std::make_shared<const SecretBytes>(SecretBytes::Random(32));
    AuditRecoveryTest::SetUp();
  }
  std::string StoredMac() {
    return db_->Get(std::string(audit_internal::kHeadMacKey)).value_or("");
  }
  // The start's note on the records past the last checkpoint: `reason_id`,
  // with `detail` in its detail.
  void ExpectTailNoted(const std::string& reason_id, const std::string& detail) {
    absl::StatusOr<std::optional<AuditRecord>> note = log_->NoteUnsignedTailAtOpen();
    ASSERT_OK(note.status());
    ASSERT_TRUE(note->has_value());
    EXPECT_EQ((*note)->entry.reason_id, reason_id);
    EXPECT_THAT((*note)->entry.reason_detail, HasSubstr(detail));
  }
};

TEST_F(AuditHeadMacTest, AnIntactTailIsNotedAsVerified) {
  AppendN(7);  // checkpoint at 5: 6 and 7 under the head MAC only
  EXPECT_EQ(StoredMac().size(), 96u);
  ASSERT_OK(Reopen());
  ExpectTailNoted("audit.head_mac_verified_at_start", "records 6..7");
}

TEST_F(AuditHeadMacTest, ARewrittenTailFailsTheStart) {
  AppendN(7);
  RewriteFrom(7, [](AuditRecord& r) { r.entry.decision = AuditDecision::kAllow; });
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 6: the head pointer's MAC does not verify")));
}

TEST_F(AuditHeadMacTest, ARecordDroppedUnderTheStoredMacFailsTheStart) {
  AppendN(7);
  ASSERT_OK(db_->Delete(RecordKey(7)));
  PutHead(6, StoredHash(6));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 7: the head MAC is of record 7, past the "
                                           "stored head: records after 6 were removed")));
}

// An older release (without the MAC) that ran after a newer one left the
// MAC of an earlier head: the start opens and notes the tail as unchecked.
TEST_F(AuditHeadMacTest, AMacOfAnEarlierHeadIsNotedAsUnchecked) {
  AppendN(6);
  const std::string mac6 = StoredMac();
  AppendN(1);
  ASSERT_OK(db_->Put(std::string(audit_internal::kHeadMacKey), mac6));
  ASSERT_OK(Reopen());
  ExpectTailNoted("audit.unsigned_at_start",
                  "the head MAC found at this start is of record 6 and verified against it, "
                  "but records 7..7 were written without updating it");
}

// The same with the records up to the earlier MAC rewritten, and a record
// appended so that the MAC is an earlier head's: the MAC is checked against
// the record it names, and the start fails.
TEST_F(AuditHeadMacTest, AnEarlierMacIsCheckedAgainstItsRecord) {
  AppendN(7);  // MAC of 7
  RewriteFrom(6, [](AuditRecord& r) { r.entry.decision = AuditDecision::kAllow; });
  ASSERT_OK_AND_ASSIGN(AuditRecord seven, audit_internal::ParseRecordLine(*db_->Get(RecordKey(7))));
  AuditRecord eight = seven;  // appended by someone without the MAC key
  eight.sequence = 8;
  eight.prev_hash = seven.hash;
  eight.hash = ComputeRecordHash(eight);
  ASSERT_OK(db_->Put(RecordKey(8), audit_internal::RecordLine(eight)));
  PutHead(8, eight.hash);
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 6: the head MAC of record 7 does not verify "
                                           "against that record")));
}

// A checkpoint at the head, signed with a key planted in the database, does
// not stand in for the head MAC: the records under it are still checked.
TEST_F(AuditHeadMacTest, ACheckpointWithAPlantedKeyDoesNotSkipTheMac) {
  AppendN(7);  // checkpoint at 5 by signer_, MAC of 7
  RewriteFrom(6, [](AuditRecord& r) { r.entry.decision = AuditDecision::kAllow; });
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<SoftwareCheckpointSigner> planted,
                       SoftwareCheckpointSigner::Generate());
  ASSERT_OK_AND_ASSIGN(CheckpointVerifyKey planted_key,
                       CheckpointVerifyKey::FromPem(planted->PublicKeyPem()));
  AuditCheckpoint c;
  c.sequence = 7;
  c.head_hash = StoredHash(7);
  c.time_unix_us = absl::ToUnixMicros(clock_.Now());
  c.key_id = planted_key.key_id();
  ASSERT_OK_AND_ASSIGN(c.signature, planted->Sign(CheckpointSignedMessage(c)));
  ASSERT_OK(db_->Put(audit_internal::CheckpointKey(7), audit_internal::CheckpointLine(c)));
  ASSERT_OK(db_->Put(audit_internal::KeyKey(c.key_id), audit_internal::KeyLine(planted_key)));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("the head pointer's MAC does not verify")));
}

// A log cut back to a checkpoint, or emptied, while the MAC of a later head
// stays: the start fails.
TEST_F(AuditHeadMacTest, ALogCutBackToACheckpointOrEmptiedFailsTheStart) {
  AppendN(7);  // checkpoint at 5, MAC of 7
  ASSERT_OK(db_->Delete(RecordKey(7)));
  ASSERT_OK(db_->Delete(RecordKey(6)));
  PutHead(5, StoredHash(5));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 6: the head MAC is of record 7, past the "
                                           "stored head: records after 5 were removed")));
  for (uint64_t seq = 1; seq <= 5; ++seq) ASSERT_OK(db_->Delete(RecordKey(seq)));
  ASSERT_OK(db_->Delete(audit_internal::CheckpointKey(5)));
  ASSERT_OK(db_->Delete(std::string(audit_internal::kHeadKey)));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 1: the head MAC is of record 7, past the "
                                           "stored head: records after 0 were removed")));
}

// The known limit: the head and MAC of an earlier batch, put back with the
// later records deleted, verify (docs/audit.md, "Known limits").
// Without an anchor (AuditOptions::anchor; AuditAnchorTest has the same
// rollback refused with one).
TEST_F(AuditHeadMacTest, ARollbackToAnEarlierHeadWithItsMacIsNotCaught) {
  AppendN(6);
  const std::string mac6 = StoredMac();
  AppendN(1);
  ASSERT_OK(db_->Delete(RecordKey(7)));
  PutHead(6, StoredHash(6));
  ASSERT_OK(db_->Put(std::string(audit_internal::kHeadMacKey), mac6));
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, 6u);
}

TEST_F(AuditHeadMacTest, AMacOfAnotherKeyFailsTheStartAndSaysSo) {
  AppendN(7);
  options_.head_mac_key = std::make_shared<const SecretBytes>(SecretBytes::Random(32));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("the head MAC was made with another key")));
}

// A head stored without a MAC (an older release's, or removed) opens, so an
// upgrade after a crash still starts; the note says the tail was unchecked.
TEST_F(AuditHeadMacTest, AHeadWithoutAMacIsNotedAsUnchecked) {
  AppendN(7);
  ASSERT_OK(db_->Delete(std::string(audit_internal::kHeadMacKey)));
  ASSERT_OK(Reopen());
  ExpectTailNoted("audit.unsigned_at_start", "the head carried no MAC");
}

// A forensic open of a tail whose MAC failed writes no MAC over it, so the
// next start does not vouch for what was found.
TEST_F(AuditHeadMacTest, AForensicOpenDoesNotVouchForTheTailItFound) {
  AppendN(7);
  options_.head_mac_key = std::make_shared<const SecretBytes>(SecretBytes::Random(32));
  options_.open_despite_broken_chain = true;
  ASSERT_OK(Reopen());
  EXPECT_THAT(log_->integrity_at_open(), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK(log_->Append(TestEntry(8)).status());
  EXPECT_EQ(StoredMac(), "");
  options_.open_despite_broken_chain = false;
  ASSERT_OK(Reopen());
  ExpectTailNoted("audit.unsigned_at_start", "records 6..8");
}

}  // namespace
}  // namespace strongroom::kms::testing
