// An AuditLog on RocksDB in a per-test temporary directory, signed by a
// software P-256 key, with a pinned clock; helpers to export, split an export
// into lines and verify it again.
#ifndef STRONGROOM_TESTS_KMS_AUDIT_AUDIT_FIXTURE_H_
#define STRONGROOM_TESTS_KMS_AUDIT_AUDIT_FIXTURE_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/audit_storage.h"
#include "kms/audit/export_verifier.h"
#include "storage/database.h"
#include "tests/kms/audit/software_signer.h"

namespace strongroom::kms::testing {

// Entry i of a deterministic mix of broker decisions and admin changes.
// The database key of record `seq`.
inline std::string RecordKey(uint64_t seq) { return audit_internal::RecordKey(seq); }

inline AuditEntry TestEntry(int i) {
  AuditEntry e;
  e.principal = absl::StrCat("spiffe://strongroom/workload-", i % 3);
  switch (i % 4) {
    case 0:
      e.action = "broker.challenge";
      e.decision = AuditDecision::kInfo;
      break;
    case 1:
      e.action = "broker.attest";
      e.decision = AuditDecision::kAllow;
      e.evidence_digest = AuditDigest(AsBytes(absl::StrCat("evidence-", i)));
      e.policy_digest = AuditDigest(AsBytes("policy-v1"));
      break;
    case 2:
      e.action = "broker.release";
      e.decision = AuditDecision::kDeny;
      e.reason_id = "attest.tcb_out_of_date";
      e.reason_detail = absl::StrCat("SNP reported TCB below the policy minimum (", i, ")");
      e.evidence_digest = AuditDigest(AsBytes(absl::StrCat("evidence-", i)));
      e.key_version = 3;
      break;
    default:
      e.principal = "spiffe://strongroom/admin";
      e.action = "admin.policy.put";
      e.decision = AuditDecision::kInfo;
      e.reason_detail = "min_tcb raised";
      e.policy_digest = AuditDigest(AsBytes(absl::StrCat("policy-v", i)));
      break;
  }
  e.resource = absl::StrCat("keys/model-", i % 2, "/versions/3");
  return e;
}

inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

inline std::string JoinLines(const std::vector<std::string>& lines) {
  return lines.empty() ? "" : absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

inline AuditVerifyResult VerifyText(const std::string& text,
                                    const VerifyExportOptions& options = {}) {
  std::istringstream in(text);
  return VerifyExport(in, options);
}

class AuditLogFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(tmp_, strongroom::testing::TempDir::Create("audit-test"));
    dir_ = tmp_->path();
    ASSERT_OK_AND_ASSIGN(signer_, SoftwareCheckpointSigner::Generate());
    ASSERT_OK_AND_ASSIGN(db_, storage::Database::Open(dir_ + "/db"));
    ASSERT_OK_AND_ASSIGN(log_, AuditLog::Create(*db_, signer_.get(), clock_, options_));
  }
  void TearDown() override {
    log_.reset();
    db_.reset();
    tmp_.reset();
  }

  // Closes and reopens the database and the log (a restart).
  absl::Status Reopen(CheckpointSigner* signer = nullptr) {
    log_.reset();
    db_.reset();
    absl::StatusOr<std::unique_ptr<storage::Database>> db =
        storage::Database::Open(dir_ + "/db");
    if (!db.ok()) return db.status();
    db_ = *std::move(db);
    absl::StatusOr<std::unique_ptr<AuditLog>> log =
        AuditLog::Create(*db_, signer != nullptr ? signer : signer_.get(), clock_, options_);
    if (!log.ok()) return log.status();
    log_ = *std::move(log);
    return absl::OkStatus();
  }

  void AppendN(int n) {
    for (int i = 0; i < n; ++i) {
      clock_.Advance(absl::Seconds(1));
      ASSERT_OK(log_->Append(TestEntry(static_cast<int>(log_->head().sequence) + 1)));
    }
  }

  std::string ExportText(uint64_t from = 1) {
    std::ostringstream out;
    EXPECT_OK(log_->Export(from, out));
    return out.str();
  }

  VerifyExportOptions Pinned() const { return {{signer_->PublicKeyPem()}}; }

  FakeClock clock_{absl::FromUnixSeconds(1'790'000'000)};
  AuditOptions options_{.checkpoint_every = 5};
  std::optional<strongroom::testing::TempDir> tmp_;
  std::string dir_;  // tmp_'s path
  std::unique_ptr<SoftwareCheckpointSigner> signer_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<AuditLog> log_;
};

// The fixture with helpers that edit the stored chain as someone with the
// database files (but not the keys) would, for the start-up checks.
class AuditRecoveryTest : public AuditLogFixture {
 protected:
  // Rewrites the stored value of record `seq` with `edit` applied.
  void EditStored(uint64_t seq, const std::function<void(std::string&)>& edit) {
    ASSERT_OK_AND_ASSIGN(std::string v, db_->Get(RecordKey(seq)));
    edit(v);
    ASSERT_OK(db_->Put(RecordKey(seq), v));
  }
  // The hash of stored record `seq`, expected readable.
  Bytes StoredHash(uint64_t seq) {
    absl::StatusOr<std::string> v = db_->Get(RecordKey(seq));
    EXPECT_OK(v.status());
    absl::StatusOr<AuditRecord> r = audit_internal::ParseRecordLine(v.value_or(""));
    EXPECT_OK(r.status());
    return r.ok() ? r->hash : Bytes();
  }
  void PutHead(uint64_t sequence, const Bytes& hash) {
    ASSERT_OK(db_->Put(std::string(audit_internal::kHeadKey),
                       audit_internal::HeadLine({sequence, hash})));
  }
  // Applies `edit` to record `from` and re-chains every later record and
  // the head pointer, as a forger without the keys would.
  void RewriteFrom(uint64_t from, const std::function<void(AuditRecord&)>& edit) {
    Bytes prev;
    uint64_t seq = from;
    for (;; ++seq) {
      absl::StatusOr<std::string> v = db_->Get(RecordKey(seq));
      if (absl::IsNotFound(v.status())) break;
      ASSERT_OK(v.status());
      ASSERT_OK_AND_ASSIGN(AuditRecord r, audit_internal::ParseRecordLine(*v));
      if (seq == from) {
        edit(r);
      } else {
        r.prev_hash = prev;
      }
      r.hash = ComputeRecordHash(r);
      prev = r.hash;
      ASSERT_OK(db_->Put(RecordKey(seq), audit_internal::RecordLine(r)));
    }
    PutHead(seq - 1, prev);
  }
};

}  // namespace strongroom::kms::testing

#endif  // STRONGROOM_TESTS_KMS_AUDIT_AUDIT_FIXTURE_H_
