// The audit log's anchor in the HSM (HsmAuditAnchor on a real SoftHSM token):
// a start on a database put back to an earlier state (a restored copy, a
// rollback with its head MAC, a log emptied or replaced by another) is
// refused, the anchor follows durable checkpoints and the head found at
// open, and a failing anchor write costs no record.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

#include "base/testing/status_matchers.h"
#include "hsm-sim/testing/softhsm_token.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_storage.h"
#include "kms/audit/hsm_audit_anchor.h"
#include "kms/pkcs11/attributes.h"
#include "kms/pkcs11/errors.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;

// Forwards to the real anchor and fails writes on demand.
class FailingAnchor : public AuditAnchor {
 public:
  explicit FailingAnchor(AuditAnchor& real) : real_(real) {}
  absl::StatusOr<std::optional<AuditHead>> Read() override { return real_.Read(); }
  absl::Status Write(const AuditHead& mark) override {
    if (fail_writes.load()) return absl::UnavailableError("injected: token not present");
    return real_.Write(mark);
  }
  std::atomic<bool> fail_writes{false};

 private:
  AuditAnchor& real_;
};

class AuditAnchorTest : public AuditRecoveryTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(token_, hsm_sim::SoftHsmToken::Create("anchor-test"));
    pkcs11::HsmOptions hsm_options{hsm_sim::SoftHsmToken::SoftHsmModulePath(),
                                   token_->label(),
                                   {.file = token_->pin_file()},
                                   4};
    ASSERT_OK_AND_ASSIGN(hsm_, pkcs11::Hsm::Create(hsm_options));
    anchor_ = std::make_unique<HsmAuditAnchor>(*hsm_);
    failing_ = std::make_unique<FailingAnchor>(*anchor_);
    options_.head_mac_key = std::make_shared<const SecretBytes>(SecretBytes::Random(32));
    options_.anchor = failing_.get();
    AuditRecoveryTest::SetUp();
  }
  void TearDown() override {
    AuditRecoveryTest::TearDown();
    failing_.reset();
    anchor_.reset();
    hsm_.reset();
    token_.reset();
  }

  AuditHead Anchored() {
    absl::StatusOr<std::optional<AuditHead>> a = anchor_->Read();
    EXPECT_OK(a.status());
    return a.ok() && a->has_value() ? **a : AuditHead{};
  }
  // Closes the log and the database (a stop) and copies the database's files
  // to `to`, or from `from` back over them (a restore of that copy).
  void CloseAndCopy(const std::string& from, const std::string& to) {
    log_.reset();
    db_.reset();
    std::filesystem::remove_all(to);
    std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  }

  // Adds an anchor object holding `value` beside those there, as a
  // replacement cut short after its creation leaves one (Hsm::ReplaceDataObjects).
  absl::Status LeaveAnchorObject(const Bytes& value) {
    return hsm_->Run("test", [&](pkcs11::Session& s) {
      pkcs11::AttributeList attrs;
      attrs.Ulong(CKA_CLASS, CKO_DATA)
          .Bool(CKA_TOKEN, true)
          .Bool(CKA_PRIVATE, true)
          .Text(CKA_APPLICATION, "strongroom")
          .Text(CKA_LABEL, kAuditAnchorLabel)
          .Data(CKA_VALUE, value);
      CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
      return pkcs11::RvToStatus("C_CreateObject",
                                s.fn->C_CreateObject(s.handle, attrs.data(), attrs.size(), &h));
    });
  }

  // Puts another log of `records` records, written elsewhere an hour later
  // (without the anchor), in this one's place; the log is closed.
  void ReplaceWithAnotherLog(int records) {
    log_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_ + "/db");
    options_.anchor = nullptr;
    clock_.Advance(absl::Hours(1));
    ASSERT_OK(Reopen());
    AppendN(records);
    log_.reset();
    db_.reset();
    options_.anchor = failing_.get();
  }

  std::unique_ptr<hsm_sim::SoftHsmToken> token_;
  std::unique_ptr<pkcs11::Hsm> hsm_;
  std::unique_ptr<HsmAuditAnchor> anchor_;
  std::unique_ptr<FailingAnchor> failing_;
};

TEST_F(AuditAnchorTest, ARestoredCopyOfTheDatabaseIsRefused) {
  AppendN(3);
  const std::string copy = dir_ + "/copy";
  CloseAndCopy(dir_ + "/db", copy);
  ASSERT_OK(Reopen());
  AppendN(4);  // a checkpoint at 5 moves the anchor
  EXPECT_EQ(Anchored().sequence, 5u);
  CloseAndCopy(copy, dir_ + "/db");
  EXPECT_THAT(Reopen(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("sequence 4: the log ends at record 3 but the HSM's audit "
                                 "anchor names record 5: records 4..5 were removed")));
}

// What the head MAC alone cannot catch (AuditHeadMacTest): the newest record
// cut off with the earlier head and its MAC put back. The start after the
// record anchored it.
TEST_F(AuditAnchorTest, ARollbackWithTheEarlierHeadMacIsRefused) {
  AppendN(6);
  const std::string mac6 = db_->Get(std::string(audit_internal::kHeadMacKey)).value_or("");
  AppendN(1);
  ASSERT_OK(Reopen());
  EXPECT_EQ(Anchored().sequence, 7u);
  ASSERT_OK(db_->Delete(RecordKey(7)));
  PutHead(6, StoredHash(6));
  ASSERT_OK(db_->Put(std::string(audit_internal::kHeadMacKey), mac6));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("the HSM's audit anchor names record 7")));
}

TEST_F(AuditAnchorTest, AnEmptiedDatabaseIsRefused) {
  AppendN(2);
  ASSERT_OK(Reopen());
  log_.reset();
  db_.reset();
  std::filesystem::remove_all(dir_ + "/db");
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("the log ends at record 0 but the HSM's audit anchor "
                                           "names record 2")));
}

TEST_F(AuditAnchorTest, AnotherLogInTheAnchoredOnesPlaceIsRefused) {
  AppendN(7);
  ASSERT_OK(Reopen());
  const AuditHead anchored = Anchored();
  ASSERT_EQ(anchored.sequence, 7u);
  ReplaceWithAnotherLog(9);
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 7: record 7 is not the one the HSM's audit "
                                           "anchor names (hash " +
                                           HexEncode(anchored.hash))));
}

TEST_F(AuditAnchorTest, TheAnchorFollowsDurableCheckpointsAndTheHeadAtOpen) {
  EXPECT_EQ(Anchored().sequence, 0u);  // nothing stored for an empty log
  AppendN(12);                         // checkpoints at 5 and 10
  EXPECT_EQ(Anchored().sequence, 10u);
  EXPECT_EQ(Anchored().hash, StoredHash(10));
  ASSERT_OK(log_->Checkpoint());
  EXPECT_EQ(Anchored().sequence, 12u);
  AppendN(1);
  ASSERT_OK(Reopen());  // a start after a crash: the head found is anchored
  EXPECT_EQ(Anchored().sequence, 13u);
  EXPECT_EQ(Anchored().hash, StoredHash(13));
}

TEST_F(AuditAnchorTest, AFailedAnchorWriteCostsNoRecordAndCheckpointSaysSo) {
  AppendN(2);
  ASSERT_OK(Reopen());
  failing_->fail_writes = true;
  AppendN(4);  // the checkpoint at 5 is stored; the anchor stays at 2
  EXPECT_EQ(log_->head().sequence, 6u);
  EXPECT_EQ(Anchored().sequence, 2u);
  EXPECT_THAT(log_->Checkpoint(),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("audit anchor not moved to record 6: injected")));
  failing_->fail_writes = false;
  ASSERT_OK(log_->Checkpoint());
  EXPECT_EQ(Anchored().sequence, 6u);
}

// A forensic start opens a rolled-back log and keeps the finding, and the
// anchor is not moved back to the earlier head.
TEST_F(AuditAnchorTest, AForensicOpenKeepsTheRollbackAsItsFinding) {
  AppendN(3);
  const std::string copy = dir_ + "/copy";
  CloseAndCopy(dir_ + "/db", copy);
  ASSERT_OK(Reopen());
  AppendN(4);
  CloseAndCopy(copy, dir_ + "/db");
  options_.open_despite_broken_chain = true;
  ASSERT_OK(Reopen());
  EXPECT_THAT(log_->integrity_at_open(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("records 4..5 were removed")));
  EXPECT_EQ(Anchored().sequence, 5u);
  AppendN(5);  // past the anchored sequence: head 9
  ASSERT_OK(log_->Checkpoint());
  EXPECT_EQ(Anchored().sequence, 5u);
}

// A replacement cut short after making its object leaves two marks in the
// token (Hsm::ReplaceDataObjects): the furthest is in force, whichever the
// token lists first.
TEST_F(AuditAnchorTest, OfTwoMarksLeftInTheTokenTheFurthestIsInForce) {
  AppendN(9);
  auto leave_mark = [&](uint64_t seq) {
    Bytes mark(8, 0);
    mark[7] = static_cast<uint8_t>(seq);
    const Bytes hash = StoredHash(seq);
    mark.insert(mark.end(), hash.begin(), hash.end());
    return LeaveAnchorObject(mark);
  };
  ASSERT_EQ(Anchored().sequence, 5u);
  ASSERT_OK(leave_mark(8));  // made after the one in force
  EXPECT_EQ(Anchored().sequence, 8u);
  EXPECT_EQ(Anchored().hash, StoredHash(8));
  ASSERT_OK(log_->Checkpoint());  // 9, alone again
  ASSERT_OK(leave_mark(6));       // made after the one in force, and behind it
  ASSERT_OK_AND_ASSIGN(std::vector<Bytes> marks, hsm_->ReadDataObjects(kAuditAnchorLabel));
  EXPECT_EQ(marks.size(), 2u);
  EXPECT_EQ(Anchored().sequence, 9u);
  ASSERT_OK(Reopen());
}

// An anchor with no readable mark stops a start as a broken chain does; a
// forensic start opens with it as the finding.
TEST_F(AuditAnchorTest, AnUnreadableAnchorStopsTheStart) {
  AppendN(1);
  ASSERT_OK(hsm_->ReplaceDataObjects(kAuditAnchorLabel, Bytes(12, 1)));
  EXPECT_THAT(Reopen(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("holds 12 bytes, not a mark of 40")));
  options_.open_despite_broken_chain = true;
  ASSERT_OK(Reopen());
  EXPECT_THAT(log_->integrity_at_open(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("holds 12 bytes, not a mark of 40")));
}

// A damaged object beside a mark (only this application's private objects
// are read, so it is a write that went wrong) is passed over.
TEST_F(AuditAnchorTest, ADamagedObjectBesideAMarkIsPassedOver) {
  AppendN(6);
  ASSERT_EQ(Anchored().sequence, 5u);
  ASSERT_OK(LeaveAnchorObject(Bytes(7, 0xff)));
  EXPECT_EQ(Anchored().sequence, 5u);
  ASSERT_OK(Reopen());  // and the start anchors its head, leaving one object
  ASSERT_OK_AND_ASSIGN(std::vector<Bytes> marks, hsm_->ReadDataObjects(kAuditAnchorLabel));
  EXPECT_EQ(marks.size(), 1u);
  EXPECT_EQ(Anchored().sequence, 6u);
}

// A forensic start on another log in the anchored one's place never moves
// the anchor, however far it appends and checkpoints: the next ordinary
// start still refuses the log.
TEST_F(AuditAnchorTest, AForensicStartOnAReplacedLogNeverMovesTheAnchor) {
  AppendN(7);
  ASSERT_OK(Reopen());
  ASSERT_EQ(Anchored().sequence, 7u);
  ReplaceWithAnotherLog(9);
  options_.open_despite_broken_chain = true;
  ASSERT_OK(Reopen());
  EXPECT_THAT(log_->integrity_at_open(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 7 is not the one")));
  AppendN(8);  // checkpoints at 10 and 15
  ASSERT_OK(log_->Checkpoint());
  EXPECT_EQ(Anchored().sequence, 7u);
  options_.open_despite_broken_chain = false;
  EXPECT_THAT(Reopen(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("record 7 is not the one")));
}

// A checkpoint whose batch fails to be written does not move the anchor
// (it would be ahead of the database).
TEST_F(AuditAnchorTest, ACheckpointWhoseWriteFailedDoesNotMoveTheAnchor) {
  auto fail = std::make_shared<std::atomic<bool>>(false);
  options_.write_batch_for_testing = [this, fail](rocksdb::WriteBatch& batch) -> absl::Status {
    if (fail->load()) return absl::UnavailableError("injected: disk full");
    return db_->Write(batch);
  };
  AppendN(2);
  ASSERT_OK(Reopen());
  AppendN(2);
  ASSERT_EQ(Anchored().sequence, 2u);
  fail->store(true);
  clock_.Advance(absl::Seconds(1));
  EXPECT_THAT(log_->Append(TestEntry(5)), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(log_->Checkpoint(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Anchored().sequence, 2u);
  fail->store(false);
  AppendN(1);  // record 5 again, with its checkpoint
  EXPECT_EQ(Anchored().sequence, 5u);
}

}  // namespace
}  // namespace strongroom::kms::testing
