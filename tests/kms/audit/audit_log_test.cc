// AuditLog on a real RocksDB: appends, recovery across restarts, concurrency,
// checkpoints, refusal of secret-looking fields, and detection of a broken
// chain in the database at start-up.
#include "kms/audit/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_storage.h"
#include "tests/kms/audit/audit_fixture.h"

namespace strongroom::kms::testing {
namespace {

using ::strongroom::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

class AuditLogTest : public AuditLogFixture {};

TEST_F(AuditLogTest, AppendNumbersFromOneAndChainsHashes) {
  EXPECT_EQ(log_->head().sequence, 0u);
  EXPECT_EQ(log_->head().hash, GenesisHash());
  std::vector<AuditRecord> records;
  for (int i = 1; i <= 3; ++i) {
    clock_.Advance(absl::Seconds(1));
    ASSERT_OK_AND_ASSIGN(AuditRecord r, log_->Append(TestEntry(i)));
    records.push_back(r);
  }
  EXPECT_EQ(records[0].sequence, 1u);
  EXPECT_EQ(records[0].prev_hash, GenesisHash());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].sequence, i + 1);
    EXPECT_EQ(records[i].hash, ComputeRecordHash(records[i]));
    EXPECT_EQ(records[i].time(), absl::FromUnixSeconds(1'790'000'000 + i + 1));
    if (i > 0) {
      EXPECT_EQ(records[i].prev_hash, records[i - 1].hash);
    }
  }
  EXPECT_EQ(records[1].entry.decision, AuditDecision::kDeny);
  EXPECT_EQ(records[1].entry.reason_id, "attest.tcb_out_of_date");
  EXPECT_EQ(log_->head().sequence, 3u);
  EXPECT_EQ(log_->head().hash, records[2].hash);

  // Stored exactly as returned.
  ASSERT_OK_AND_ASSIGN(std::string stored, db_->Get(RecordKey(2)));
  ASSERT_OK_AND_ASSIGN(AuditRecord parsed, audit_internal::ParseRecordLine(stored));
  EXPECT_EQ(parsed.hash, records[1].hash);
  EXPECT_EQ(parsed.entry.evidence_digest, records[1].entry.evidence_digest);
}

TEST_F(AuditLogTest, HeadIsRecoveredAcrossReopen) {
  AppendN(7);
  AuditHead before = log_->head();
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, 7u);
  EXPECT_EQ(log_->head().hash, before.hash);
  ASSERT_OK_AND_ASSIGN(AuditRecord next, log_->Append(TestEntry(8)));
  EXPECT_EQ(next.sequence, 8u);
  EXPECT_EQ(next.prev_hash, before.hash);

  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 8u);
  EXPECT_EQ(v.last_sequence, 8u);
  EXPECT_EQ(v.checkpoints, 1u);  // at 5
}

// Records past the last checkpoint when a process did not stop cleanly are
// under no signature; the next start says so in the chain (the checkpoint
// after it vouches for them as found), and says nothing when all are signed.
TEST_F(AuditLogTest, AnUnsignedTailAtOpenIsNotedInTheChain) {
  AppendN(7);  // checkpoint at 5: 6 and 7 unsigned
  ASSERT_OK(Reopen());
  ASSERT_OK_AND_ASSIGN(std::optional<AuditRecord> note, log_->NoteUnsignedTailAtOpen());
  ASSERT_TRUE(note.has_value());
  EXPECT_EQ(note->sequence, 8u);
  EXPECT_EQ(note->entry.action, "audit_recovered");
  EXPECT_EQ(note->entry.reason_id, "audit.unsigned_at_start");
  EXPECT_THAT(note->entry.reason_detail, HasSubstr("records 6..7 were under no signed checkpoint"));
  ASSERT_OK(log_->Checkpoint().status());
  ASSERT_OK(Reopen());
  ASSERT_OK_AND_ASSIGN(note, log_->NoteUnsignedTailAtOpen());
  EXPECT_FALSE(note.has_value());
  EXPECT_EQ(log_->head().sequence, 8u);
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
}

TEST_F(AuditLogTest, CheckpointsEveryNAndOnDemand) {
  AppendN(12);
  EXPECT_EQ(signer_->signatures(), 2);  // at 5 and 10
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint c, log_->Checkpoint());
  EXPECT_EQ(c.sequence, 12u);
  EXPECT_EQ(c.head_hash, log_->head().hash);
  EXPECT_EQ(c.key_id, signer_->KeyId());
  ASSERT_OK_AND_ASSIGN(CheckpointVerifyKey key,
                       CheckpointVerifyKey::FromPem(signer_->PublicKeyPem()));
  EXPECT_OK(key.Verify(CheckpointSignedMessage(c), c.signature));
  EXPECT_EQ(signer_->signatures(), 3);
  // The head is already checkpointed: no new signature.
  ASSERT_OK_AND_ASSIGN(AuditCheckpoint again, log_->Checkpoint());
  EXPECT_EQ(again.signature, c.signature);
  EXPECT_EQ(signer_->signatures(), 3);
  // The next periodic checkpoint counts from the on-demand one.
  AppendN(4);
  EXPECT_EQ(signer_->signatures(), 3);
  AppendN(1);
  EXPECT_EQ(signer_->signatures(), 4);

  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checkpoints, 4u);  // 5, 10, 12, 17
  EXPECT_EQ(v.verified_through, 17u);
}

TEST_F(AuditLogTest, CheckpointOfEmptyLogIsRefused) {
  EXPECT_THAT(log_->Checkpoint(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(AuditLogTest, ConcurrentAppendsAreGapFree) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<AuditRecord> r = log_->Append(TestEntry(t * kPerThread + i));
        if (r.ok()) seen[t].push_back(r->sequence);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<uint64_t> all;
  for (const auto& s : seen) {
    EXPECT_EQ(s.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(s.begin(), s.end()));  // each thread's appends in order
    all.insert(all.end(), s.begin(), s.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], i + 1);

  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, all.size());
  EXPECT_EQ(v.checkpoints, all.size() / 5);
  ASSERT_OK(Reopen());
  EXPECT_EQ(log_->head().sequence, all.size());
}

TEST_F(AuditLogTest, RefusesSecretsAndMalformedFields) {
  const std::string token = "eyJhbGciOiJFUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl";
  AuditEntry e = TestEntry(1);
  e.evidence_digest = token;  // a token where its digest belongs
  absl::StatusOr<AuditRecord> r = log_->Append(e);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("evidence_digest")));
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(token)));

  e = TestEntry(1);
  e.reason_detail = "unwrap failed for -----BEGIN PRIVATE KEY-----\nMIGHAgEA...";
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("PEM block")));
  e = TestEntry(1);
  e.policy_digest = "sha256:" + std::string(64, 'A');  // uppercase hex is not canonical
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("policy_digest")));
  e = TestEntry(2);
  e.reason_id.clear();  // a denial needs its reason
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("reason_id")));
  e = TestEntry(1);
  e.action = "Broker.Release";
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("action")));
  e = TestEntry(1);
  e.principal = std::string("caf\xc3", 4);  // truncated UTF-8
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("UTF-8")));
  e = TestEntry(1);
  e.reason_detail = std::string(5000, 'x');
  EXPECT_THAT(log_->Append(e), StatusIs(absl::StatusCode::kInvalidArgument,
                                        HasSubstr("reason_detail")));
  EXPECT_EQ(log_->head().sequence, 0u);

  e = TestEntry(1);
  e.evidence_digest = AuditDigest(AsBytes(token));
  e.reason_detail = "caf\xc3\xa9 \"quoted\" \\ and a\nnewline";
  ASSERT_OK(log_->Append(e));
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_THAT(ExportText(), Not(HasSubstr(token)));
}

TEST_F(AuditLogTest, SignerFailureDelaysCheckpointButNotAppend) {
  FaultySigner faulty(*signer_);
  ASSERT_OK(Reopen(&faulty));
  AppendN(4);
  faulty.set_fail(true);
  AppendN(1);  // checkpoint due at 5 but the signer is down
  EXPECT_EQ(log_->head().sequence, 5u);
  EXPECT_THAT(log_->Checkpoint(), StatusIs(absl::StatusCode::kUnavailable));
  std::ostringstream out;
  EXPECT_THAT(log_->Export(1, out), StatusIs(absl::StatusCode::kUnavailable));
  faulty.set_fail(false);
  AppendN(1);  // retried at 6
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checkpoints, 1u);
  EXPECT_EQ(v.records, 6u);

  // A signer that returns a bad signature is caught before anything is stored.
  faulty.set_corrupt(true);
  AppendN(1);
  EXPECT_THAT(log_->Checkpoint(), StatusIs(absl::StatusCode::kInternal));
  AppendN(5);  // the periodic checkpoint at 11 is refused too
  faulty.set_corrupt(false);
  v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.checkpoints, 1u);
}

TEST_F(AuditLogTest, CreateNeedsAConsistentSigner) {
  EXPECT_THAT(AuditLog::Create(*db_, nullptr, clock_, options_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(auto other, SoftwareCheckpointSigner::Generate());
  class MislabelledSigner : public CheckpointSigner {
   public:
    MislabelledSigner(CheckpointSigner& a, CheckpointSigner& b) : a_(a), b_(b) {}
    absl::StatusOr<Bytes> Sign(std::span<const uint8_t> m) override { return a_.Sign(m); }
    std::string KeyId() const override { return b_.KeyId(); }
    std::string PublicKeyPem() const override { return a_.PublicKeyPem(); }
    CheckpointSigner& a_;
    CheckpointSigner& b_;
  } mislabelled(*signer_, *other);
  EXPECT_THAT(AuditLog::Create(*db_, &mislabelled, clock_, options_),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key id")));
}

// --- Start-up checks of the stored chain -------------------------------------

TEST_F(AuditRecoveryTest, EditedRecordIsReportedAtStartup) {
  AppendN(8);
  EditStored(3, [](std::string& v) { v = absl::StrReplaceAll(v, {{"keys/model-", "keys/mode1-"}}); });
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sequence 3")));
}

TEST_F(AuditRecoveryTest, DeletedRecordIsReportedAtStartup) {
  AppendN(8);
  ASSERT_OK(db_->Delete(RecordKey(4)));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 4: record 4 is missing")));
}

TEST_F(AuditRecoveryTest, DeletedTailIsReportedAtStartup) {
  AppendN(8);
  ASSERT_OK(db_->Delete(RecordKey(8)));
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sequence 8")));
}

TEST_F(AuditRecoveryTest, RewrittenChainIsCaughtByCheckpoint) {
  AppendN(8);
  // A forger edits record 3 and recomputes every later hash and the head
  // pointer: the chain is consistent again, but the checkpoint at 5 is not.
  RewriteFrom(3, [](AuditRecord& r) { r.entry.decision = AuditDecision::kAllow; });
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("sequence 5: the checkpoint's head hash")));
}

TEST_F(AuditRecoveryTest, ForensicOpenKeepsTheEvidence) {
  AppendN(8);
  EditStored(3, [](std::string& v) { v = absl::StrReplaceAll(v, {{"keys/model-", "keys/mode1-"}}); });
  options_.open_despite_broken_chain = true;
  ASSERT_OK(Reopen());
  EXPECT_THAT(log_->integrity_at_open(), StatusIs(absl::StatusCode::kDataLoss,
                                                  HasSubstr("sequence 3")));
  ASSERT_OK_AND_ASSIGN(AuditRecord r, log_->Append(TestEntry(9)));
  EXPECT_EQ(r.sequence, 9u);
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 3u);
}

TEST_F(AuditRecoveryTest, PartialCheckOnOpenStartsAtLastCheckpoint) {
  AppendN(8);
  options_.verify_full_chain_on_open = false;
  // Before the last checkpoint (5): not re-read at start-up (the export
  // verifier still catches it).
  EditStored(2, [](std::string& v) { v = absl::StrReplaceAll(v, {{"keys/model-", "keys/mode1-"}}); });
  ASSERT_OK(Reopen());
  EXPECT_EQ(VerifyText(ExportText(), Pinned()).first_bad_sequence, 2u);
  // After it: caught.
  EditStored(7, [](std::string& v) { v = absl::StrReplaceAll(v, {{"keys/model-", "keys/mode1-"}}); });
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("sequence 7")));
}

// Read from the latest checkpoint only, with the records from it on deleted:
// a forensic open would have started at head 0 and appended over record 1.
TEST_F(AuditRecoveryTest, ForensicPartialOpenRefusesWhenTheTailIsGone) {
  AppendN(8);  // checkpoint at 5
  for (uint64_t seq = 5; seq <= 8; ++seq) ASSERT_OK(db_->Delete(RecordKey(seq)));
  options_.verify_full_chain_on_open = false;
  options_.open_despite_broken_chain = true;
  EXPECT_THAT(Reopen(), StatusIs(absl::StatusCode::kDataLoss,
                                 HasSubstr("latest checkpoint (5) on are missing")));
  ASSERT_OK_AND_ASSIGN(std::string first, db_->Get(RecordKey(1)));
  EXPECT_THAT(first, HasSubstr("\"sequence\":1"));
}

TEST_F(AuditRecoveryTest, OldKeyStillVerifiesAfterSignerRotation) {
  AppendN(6);  // checkpoint at 5 by the first key
  ASSERT_OK_AND_ASSIGN(auto second, SoftwareCheckpointSigner::Generate());
  ASSERT_OK(Reopen(second.get()));  // the stored first key verifies checkpoint 5
  AppendN(6);                       // checkpoint at 10 by the second key
  std::string text = ExportText();
  AuditVerifyResult v = VerifyText(text);
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.signing_key_ids.size(), 2u);
  EXPECT_FALSE(v.keys_pinned);
  v = VerifyText(text, {{signer_->PublicKeyPem(), second->PublicKeyPem()}});
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_TRUE(v.keys_pinned);
  // Trusting only the new key: checkpoint 5 is not vouched for.
  v = VerifyText(text, {{second->PublicKeyPem()}});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_sequence, 1u);
  EXPECT_THAT(v.reason, HasSubstr("not a trusted key"));
}

TEST_F(AuditLogTest, ExportRanges) {
  AppendN(12);
  AuditVerifyResult v = VerifyText(ExportText(7), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.from_sequence, 7u);
  EXPECT_EQ(v.records, 6u);
  EXPECT_EQ(v.checkpoints, 1u);  // at 10
  v = VerifyText(ExportText(13), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 0u);
  EXPECT_EQ(v.head_hash, HexEncode(log_->head().hash));
  std::ostringstream out;
  EXPECT_THAT(log_->Export(0, out), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log_->Export(14, out), StatusIs(absl::StatusCode::kOutOfRange));

  // A stream that fails is an error, not a silently short export.
  std::ostringstream broken;
  broken.setstate(std::ios::badbit);
  EXPECT_THAT(log_->Export(1, broken), StatusIs(absl::StatusCode::kInternal));
}

// RecordLine writes plain-ASCII records itself; the bytes must be nlohmann's
// dump of the same record (ParseLine refuses any other form), and records
// with anything to escape or non-ASCII take the dump.
TEST(AuditRecordLine, DirectWriterMatchesTheDump) {
  const std::vector<std::string> texts = {
      "",
      "spiffe://strongroom/worker-1",
      "keys/k1/versions/3",
      "sha256:" + std::string(64, 'a'),
      "a \"quoted\" word",
      "back\\slash",
      "tab\there",
      "line\nbreak",
      std::string("nul\0byte", 8),
      "\x7f del",
      "caf\xc3\xa9",
      "bad \xff utf-8",
      "~!@#$%^&*()_+`-={}|[]:;'<>?,./",
  };
  const AuditDecision decisions[] = {AuditDecision::kInfo, AuditDecision::kAllow,
                                     AuditDecision::kDeny};
  int direct = 0;
  for (size_t i = 0; i < texts.size() * texts.size(); ++i) {
    AuditRecord r;
    r.sequence = i == 0 ? std::numeric_limits<uint64_t>::max() : i;
    r.time_unix_us = i % 3 == 0 ? -static_cast<int64_t>(i) : static_cast<int64_t>(i) << 40;
    r.entry.principal = texts[i % texts.size()];
    r.entry.action = "broker.release";
    r.entry.resource = texts[(i / texts.size()) % texts.size()];
    r.entry.decision = decisions[i % 3];
    r.entry.reason_id = texts[(i + 1) % texts.size()];
    r.entry.reason_detail = texts[(i * 7) % texts.size()];
    r.entry.evidence_digest = texts[(i + 3) % texts.size()];
    r.entry.policy_digest = texts[(i * 5 + 2) % texts.size()];
    r.entry.key_version = i % 2 == 0 ? i : std::numeric_limits<uint64_t>::max() - i;
    r.prev_hash = Bytes(kAuditHashBytes, static_cast<uint8_t>(i));
    r.hash = Bytes(kAuditHashBytes, static_cast<uint8_t>(255 - i));
    const std::string line = audit_internal::RecordLine(r);
    ASSERT_EQ(line, audit_internal::RecordLineByDump(r)) << "record " << i;
    if (line.find('\\') == std::string::npos && line.find('\xc3') == std::string::npos) ++direct;
  }
  EXPECT_GT(direct, 0);  // some records took the direct writer

  // A valid entry written directly reads back whole.
  AuditRecord r;
  r.sequence = 42;
  r.time_unix_us = 1764200000000000;
  r.entry = TestEntry(42);
  r.prev_hash = Bytes(kAuditHashBytes, 1);
  r.hash = Bytes(kAuditHashBytes, 2);
  ASSERT_OK_AND_ASSIGN(AuditRecord parsed,
                       audit_internal::ParseRecordLine(audit_internal::RecordLine(r)));
  EXPECT_EQ(parsed.sequence, r.sequence);
  EXPECT_EQ(parsed.time_unix_us, r.time_unix_us);
  EXPECT_EQ(parsed.entry.principal, r.entry.principal);
  EXPECT_EQ(parsed.entry.resource, r.entry.resource);
  EXPECT_EQ(parsed.entry.key_version, r.entry.key_version);
  EXPECT_EQ(parsed.prev_hash, r.prev_hash);
  EXPECT_EQ(parsed.hash, r.hash);
}

TEST_F(AuditLogTest, EmptyLogExportsAndVerifies) {
  AuditVerifyResult v = VerifyText(ExportText(), Pinned());
  EXPECT_TRUE(v.ok) << v.reason;
  EXPECT_EQ(v.records, 0u);
  EXPECT_EQ(v.head_hash, HexEncode(GenesisHash()));
}

// What a denial's reason says cannot cost its record: AuditSafeDetail makes
// any text one the log accepts (the raw texts above are refused).
TEST_F(AuditLogTest, SafeDetailMakesAnyReasonAppendable) {
  const std::string texts[] = {
      std::string(5000, 'x'),
      "unwrap failed for -----BEGIN PRIVATE KEY-----\nMIGHAgEA...",
      std::string(63, 'a') + std::string("\xc3", 1),             // cut inside a character
      std::string("bad \xff\xfe bytes \xed\xa0\x80 surrogate"),  // not UTF-8 at all
      std::string(4090, 'y') + "\xc3\xa9\xc3\xa9\xc3\xa9",       // the cut lands mid-text
  };
  for (const std::string& text : texts) {
    AuditEntry e = TestEntry(1);
    e.reason_detail = AuditSafeDetail(text);
    EXPECT_OK(ValidateAuditEntry(e)) << text.substr(0, 80);
    EXPECT_OK(log_->Append(e).status());
  }
  EXPECT_EQ(AuditSafeDetail("policy_denied: all 3 alternatives failed"),
            "policy_denied: all 3 alternatives failed");
  EXPECT_EQ(AuditSafeDetail("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(AuditSafeDetail("x -----BEGIN CERT"), "x [PEM] CERT");
  EXPECT_EQ(AuditSafeDetail(std::string("a\xc3", 2)), "a?");
  EXPECT_TRUE(absl::EndsWith(AuditSafeDetail(std::string(5000, 'x')), " ...(cut)"));
  EXPECT_LE(AuditSafeDetail(std::string(5000, 'x')).size(), 4096u);
}

}  // namespace
}  // namespace strongroom::kms::testing
