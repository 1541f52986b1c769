#include "kms/audit/audit_log.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_storage.h"

namespace strongroom::kms {

using audit_internal::CheckpointKey;
using audit_internal::HeadMac;
using audit_internal::HeadMacValue;
using audit_internal::kHeadKey;
using audit_internal::kHeadMacKey;
using audit_internal::RecordKey;

struct AuditLog::Outcome {
  bool done = false;
  absl::Status status;  // once done
};

struct AuditLog::PendingBatch {
  rocksdb::WriteBatch batch;
  uint64_t records = 0;
  AuditHead head;                             // its last record, when records > 0
  std::optional<AuditCheckpoint> checkpoint;  // the last checkpoint it holds
  // Guarded by mu_; shared with the tickets of its records.
  std::shared_ptr<Outcome> outcome = std::make_shared<Outcome>();
  // Its callers wait here; the first caller of the next batch waits here
  // too, for its turn to write.
  std::condition_variable cv;
};

AuditLog::AuditLog(storage::Database& db, CheckpointSigner& signer, const Clock& clock,
                   AuditOptions options, CheckpointVerifyKey signer_key)
    : db_(db),
      signer_(signer),
      clock_(clock),
      options_(std::move(options)),
      signer_key_(std::move(signer_key)),
      open_(std::make_shared<PendingBatch>()) {}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(storage::Database& db,
                                                           CheckpointSigner* signer,
                                                           const Clock& clock,
                                                           AuditOptions options) {
  if (signer == nullptr) {
    return absl::InvalidArgumentError("audit log needs a checkpoint signer");
  }
  ASSIGN_OR_RETURN(CheckpointVerifyKey key, CheckpointVerifyKey::FromPem(signer->PublicKeyPem()));
  if (key.key_id() != signer->KeyId()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "checkpoint signer key id ", signer->KeyId(),
        " is not the SHA-256 of its public key's SubjectPublicKeyInfo (", key.key_id(), ")"));
  }
  std::unique_ptr<AuditLog> log(new AuditLog(db, *signer, clock, options, std::move(key)));
  RETURN_IF_ERROR(log->Recover());
  // The head found (after a crash, past the last anchored checkpoint).
  RETURN_IF_ERROR(log->AdvanceAnchor(log->head()));
  return log;
}

absl::StatusOr<AuditCheckpoint> AuditLog::SignHead(uint64_t sequence, const Bytes& hash,
                                                   rocksdb::WriteBatch& batch) {
  AuditCheckpoint c;
  c.sequence = sequence;
  c.head_hash = hash;
  c.time_unix_us = absl::ToUnixMicros(clock_.Now());
  c.key_id = signer_key_.key_id();
  Bytes message = CheckpointSignedMessage(c);
  ASSIGN_OR_RETURN(c.signature, signer_.Sign(message));
  if (!signer_key_.Verify(message, c.signature).ok()) {
    return absl::InternalError(absl::StrCat("checkpoint signer returned a signature that "
                                            "does not verify under its key ",
                                            c.key_id));
  }
  batch.Put(CheckpointKey(sequence), audit_internal::CheckpointLine(c));
  if (!signer_key_stored_) {
    batch.Put(audit_internal::KeyKey(c.key_id), audit_internal::KeyLine(signer_key_));
  }
  return c;
}

absl::Status AuditLog::AwaitCommit(std::unique_lock<std::mutex>& lock,
                                   const std::shared_ptr<PendingBatch>& mine) {
  while (!mine->outcome->done) {
    if (writing_ != nullptr) {
      mine->cv.wait(lock);
      continue;
    }
    // No write in flight and `mine` is not done: batches are written in
    // order, so `mine` is the open batch. This caller writes it.
    std::shared_ptr<PendingBatch> b = std::move(open_);
    writing_ = b;
    open_ = std::make_shared<PendingBatch>();
    if (b->records > 0) {
      b->batch.Put(std::string(kHeadKey),
                   audit_internal::HeadLine({b->head.sequence, b->head.hash}));
      if (options_.head_mac_key != nullptr) {
        if (write_head_mac_) {
          const Bytes mac = HeadMac(*options_.head_mac_key, b->head.sequence, b->head.hash);
          b->batch.Put(std::string(kHeadMacKey),
                       HeadMacValue(*options_.head_mac_key, b->head.sequence, mac));
        } else {
          b->batch.Delete(std::string(kHeadMacKey));
        }
      }
    }
    lock.unlock();
    absl::Status s;
    // An exception from the write (std::bad_alloc inside RocksDB) must not
    // leave `writing_` set: every later caller would wait on it forever. It
    // fails this batch; and since nothing says whether the batch reached
    // the database, the log takes no more records until it is reopened and
    // re-reads its chain (reusing the sequences could fork it).
    bool threw = false;
    try {
      s = options_.write_batch_for_testing ? options_.write_batch_for_testing(b->batch)
                                           : db_.Write(b->batch);
    } catch (const std::exception& e) {
      threw = true;
      s = absl::InternalError(absl::StrCat("audit write threw: ", e.what()));
    } catch (...) {
      threw = true;
      s = absl::InternalError("audit write threw a non-standard exception");
    }
    lock.lock();
    if (threw) {
      broken_ = absl::StrCat(
          "audit log: a write ended in an exception (", s.message(),
          ") and may or may not have reached the database; no record is appended until the "
          "server restarts and re-reads the chain");
    }
    writing_.reset();
    FinishCommit(*b, s);
    // `mine` is `b`, now done. Wake its callers and one caller of the next
    // batch (to take its turn to write) with the mutex released, so that
    // they do not wake only to block on it.
    const absl::Status result = b->outcome->status;
    const std::shared_ptr<PendingBatch> next = open_;
    lock.unlock();
    b->cv.notify_all();
    next->cv.notify_one();
    if (result.ok() && b->checkpoint.has_value()) {
      // Records are durable whatever the anchor does: a failure (logged by
      // AdvanceAnchor) leaves it behind, a longer stretch a rollback could
      // remove unseen, not wrong.
      AdvanceAnchor({b->checkpoint->sequence, b->checkpoint->head_hash}).IgnoreError();
    }
    return result;
  }
  return mine->outcome->status;
}

void AuditLog::FinishCommit(PendingBatch& b, const absl::Status& s) {
  b.outcome->done = true;
  b.outcome->status = s;
  if (s.ok()) {
    if (b.records > 0) head_ = b.head;
    if (b.checkpoint.has_value()) {
      last_checkpoint_ = b.checkpoint;
      signer_key_stored_ = true;
    }
    if (checkpoint_batch_.get() == &b) checkpoint_batch_.reset();
    return;
  }
  // The open batch chains onto the records that were just lost: it fails
  // too, and the chain continues from the last durable record.
  LogError("audit.write_failed", {{"first_sequence", head_.sequence + 1},
                                  {"error", std::string(s.message())}});
  if (open_->records > 0 || open_->checkpoint.has_value()) {
    // Unavailable whatever the write's error, as for a record whose `after`
    // is refused (CheckAfter): the caller's record was not written.
    open_->outcome->done = true;
    open_->outcome->status = absl::UnavailableError(absl::StrCat(
        "audit record not written: the write of the records ahead of it failed: ", s.message()));
    open_->cv.notify_all();
    open_ = std::make_shared<PendingBatch>();
  }
  assigned_head_ = head_;
  assigned_checkpoint_ = last_checkpoint_;
  checkpoint_batch_.reset();
}

AuditRecord AuditLog::AppendLocked(AuditEntry entry) {
  AuditRecord r;
  r.sequence = assigned_head_.sequence + 1;
  r.time_unix_us = absl::ToUnixMicros(clock_.Now());
  r.entry = std::move(entry);
  r.prev_hash = assigned_head_.hash;
  r.hash = ComputeRecordHash(r);

  PendingBatch& batch = *open_;
  batch.batch.Put(RecordKey(r.sequence), audit_internal::RecordLine(r));
  batch.records++;
  batch.head = AuditHead{r.sequence, r.hash};
  assigned_head_ = batch.head;
  uint64_t since = r.sequence - (assigned_checkpoint_ ? assigned_checkpoint_->sequence : 0);
  if (options_.checkpoint_every > 0 && since >= options_.checkpoint_every) {
    absl::StatusOr<AuditCheckpoint> c = SignHead(r.sequence, r.hash, batch.batch);
    if (c.ok()) {
      batch.checkpoint = *c;
      assigned_checkpoint_ = *std::move(c);
      checkpoint_batch_ = open_;
    } else {
      // The decision is recorded regardless; the next append tries again.
      LogWarning("audit.checkpoint_failed", {{"sequence", r.sequence},
                                             {"error", std::string(c.status().message())}});
    }
  }
  return r;
}

absl::Status AuditLog::CheckAfter(const Ticket* after) {
  if (after == nullptr || after->outcome_ == nullptr || !after->outcome_->done ||
      after->outcome_->status.ok()) {
    return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat(
      "audit: record ", after->sequence_,
      ", which this one follows, was not written: ", after->outcome_->status.message()));
}

absl::StatusOr<AuditRecord> AuditLog::Append(AuditEntry entry, const Ticket* after) {
  RETURN_IF_ERROR(ValidateAuditEntry(entry));
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  RETURN_IF_ERROR(CheckAfter(after));
  AuditRecord r = AppendLocked(std::move(entry));
  // Still open or in flight, the `after` record is in this batch or the one
  // ahead of it, whose failure fails this one too (FinishCommit).
  const std::shared_ptr<PendingBatch> batch = open_;
  RETURN_IF_ERROR(AwaitCommit(lock, batch));
  return r;
}

absl::StatusOr<AuditLog::Ticket> AuditLog::AppendUnsynced(AuditEntry entry, const Ticket* after) {
  RETURN_IF_ERROR(ValidateAuditEntry(entry));
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  RETURN_IF_ERROR(CheckAfter(after));
  Ticket t;
  t.sequence_ = AppendLocked(std::move(entry)).sequence;
  t.outcome_ = open_->outcome;
  return t;
}

absl::Status AuditLog::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  // The open batch, or else the one in flight: batches are written in
  // order, so once the last one is done every earlier one is.
  std::shared_ptr<PendingBatch> batch =
      open_->records > 0 || open_->checkpoint.has_value() ? open_ : writing_;
  if (batch == nullptr) return absl::OkStatus();
  return AwaitCommit(lock, batch);
}

absl::StatusOr<AuditCheckpoint> AuditLog::Checkpoint() {
  std::unique_lock<std::mutex> lock(mu_);
  if (!broken_.empty()) return absl::InternalError(broken_);
  if (assigned_head_.sequence == 0) {
    return absl::FailedPreconditionError("audit log is empty: nothing to checkpoint");
  }
  if (assigned_checkpoint_.has_value() &&
      assigned_checkpoint_->sequence == assigned_head_.sequence) {
    AuditCheckpoint c = *assigned_checkpoint_;
    if (checkpoint_batch_ != nullptr) {
      std::shared_ptr<PendingBatch> pending = checkpoint_batch_;
      RETURN_IF_ERROR(AwaitCommit(lock, pending));
    }
    if (lock.owns_lock()) lock.unlock();
    RETURN_IF_ERROR(AdvanceAnchor({c.sequence, c.head_hash}));
    return c;
  }
  std::shared_ptr<PendingBatch> batch = open_;
  ASSIGN_OR_RETURN(AuditCheckpoint c,
                   SignHead(assigned_head_.sequence, assigned_head_.hash, batch->batch));
  batch->checkpoint = c;
  assigned_checkpoint_ = c;
  checkpoint_batch_ = batch;
  RETURN_IF_ERROR(AwaitCommit(lock, batch));
  if (lock.owns_lock()) lock.unlock();
  RETURN_IF_ERROR(AdvanceAnchor({c.sequence, c.head_hash}));
  return c;
}

absl::Status AuditLog::AdvanceAnchor(const AuditHead& mark) {
  // A log opened despite a failed check (forensics) never moves the anchor:
  // what it found, and what it appends after it, is not vouched for, so a
  // rollback or a replaced log stays refused at every later start until
  // someone with the HSM's PIN removes the anchor (docs/audit.md).
  if (options_.anchor == nullptr || !integrity_at_open_.ok()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(anchor_mu_);
  if (mark.sequence <= anchored_sequence_) return absl::OkStatus();
  absl::Status s = options_.anchor->Write(mark);
  if (!s.ok()) {
    LogError("audit.anchor_write_failed",
             {{"sequence", mark.sequence}, {"error", std::string(s.message())}});
    return absl::Status(s.code(), absl::StrCat("audit anchor not moved to record ", mark.sequence,
                                               ": ", s.message()));
  }
  anchored_sequence_ = mark.sequence;
  return absl::OkStatus();
}

AuditHead AuditLog::head() const {
  std::lock_guard<std::mutex> lock(mu_);
  return head_;
}

}  // namespace strongroom::kms
