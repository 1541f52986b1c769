// AuditLog: the key broker's tamper-evident decision log in RocksDB.
//
// Every decision (challenge, attest, release, denial with its reason) and
// every admin change is appended as an AuditRecord whose hash covers all its
// fields and the previous record's hash (audit_record.h gives the exact
// encoding). Sequences start at 1 and have no gaps. Every
// `checkpoint_every` records, and on Checkpoint(), the head is signed by a
// CheckpointSigner (an HSM key in production) and the checkpoint is stored
// with the record in the same synced batch.
//
// Group commit: a synced write costs one fsync (milliseconds on a virtual
// disk), so records are not written one by one. Append() numbers and chains
// its record under the mutex, adds it to the open batch, and waits. Whichever
// waiting caller finds no write in flight takes the open batch, writes it
// (records, their checkpoints and the head pointer naming the batch's last
// record) in one synced RocksDB write with the mutex released, and wakes the
// callers of that batch; records appended meanwhile gather in the next batch.
// So there is at most one write in flight, batches are written in sequence
// order, and Append() returns only after its record's batch is synced: OK
// still means durable. A batch is applied whole or not at all, so a crash
// leaves a gap-free prefix of the chain with a head pointer that names its
// last record. When a write fails, its records and those of the batch
// gathering behind it (which chain onto them) all fail and the in-memory
// chain goes back to the last durable record, so the next append reuses the
// first failed sequence: sequences stay gap-free.
//
// AppendUnsynced() chains a record the same way without waiting: it goes
// out with the next batch written. The broker uses it for challenges (a
// nonce does nothing until Attest redeems it, and Attest's own record
// follows the challenge's through Append(entry, &ticket)) and, in an Attest
// that also releases, for the attest record (the synced release record
// follows it), so such a flow waits for one synced write rather than three.
// The server's maintenance loop and Export() flush such records.
//
// Export() writes JSON lines (header, public keys, records and checkpoints in
// sequence order, and a trailer signed at export time) that VerifyExport()
// (export_verifier.h) or an external auditor checks offline; docs/audit.md
// describes the format.
//
// RocksDB layout (all values are the JSON lines of audit_json.h):
//   audit/rec/<20-digit sequence>   records
//   audit/ckpt/<20-digit sequence>  checkpoints
//   audit/key/<key id>              public keys that signed checkpoints
//   audit/head                      {sequence, hash} of the latest record
//   audit/head_mac                  the head's MAC (AuditOptions::head_mac_key;
//                                   hex, not JSON: audit_storage.h)
//
// Start-up: Create() recovers the head from the stored records and checks the
// chain (all of it, or from the latest checkpoint on, per AuditOptions):
// record keys and sequences agree and have no gaps, every hash recomputes and
// links to its predecessor, every checkpoint in range matches the chain and
// its signature verifies, and the head pointer names the last record. A
// broken chain is DataLoss naming the first bad sequence, unless
// `open_despite_broken_chain` is set (forensics: the log opens, appends
// continue after the last stored record, and integrity_at_open() keeps the
// DataLoss).
//
// Thread-safety: all methods may be called concurrently. Numbering, chaining
// and checkpoint signing (the HSM signature every `checkpoint_every` records)
// are serialized by one mutex; the synced write is not done under it.
// Export() holds it only to take a snapshot of the durable head. The
// Database, the signer and the clock must outlive the log.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "base/secret_bytes.h"
#include "kms/audit/audit_anchor.h"
#include "kms/audit/audit_record.h"
#include "kms/audit/checkpoint_signer.h"
#include "storage/database.h"

namespace strongroom::kms {

struct AuditOptions {
  // Sign a checkpoint after every this many records; 0: only on Checkpoint().
  uint64_t checkpoint_every = 1000;
  // true: Create() re-verifies every stored record; false: only those after
  // the latest checkpoint (and that checkpoint).
  bool verify_full_chain_on_open = true;
  // See the header comment; for forensics only.
  bool open_despite_broken_chain = false;
  // An HMAC-SHA256 key (32 bytes) for the head pointer: every group commit
  // stores a MAC of the head (sequence and hash) made with it, and Create()
  // checks the stored one, so that records past the last signed checkpoint
  // cannot be changed or added while the server is down by someone without
  // the key (a DataLoss at open, as for a broken chain; so is a MAC made
  // with another key). A rollback to an earlier head with its MAC is
  // caught only by the `anchor` (docs/audit.md). strongroomd derives the key from a key in the
  // HSM (DeriveAuditHeadMacKey). Null: heads carry no MAC.
  std::shared_ptr<const SecretBytes> head_mac_key;
  // How far the log reached, kept outside the database (audit_anchor.h;
  // strongroomd: HsmAuditAnchor): Create() refuses a log that ends before
  // the anchored record or holds another one under its sequence (DataLoss,
  // like a broken chain), then anchors the head it opened; every durable
  // checkpoint moves it forward. Null: no anchor. Not owned; must outlive
  // the log.
  AuditAnchor* anchor = nullptr;
  // Tests only: writes each group commit's batch in place of
  // Database::Write, so a test can slow writes down or fail them. Null:
  // Database::Write.
  std::function<absl::Status(rocksdb::WriteBatch&)> write_batch_for_testing;
};

class AuditLog {
 private:
  // Records and checkpoints waiting to be written together (audit_log.cc).
  struct PendingBatch;
  // Whether a batch's write is done, and its status (audit_log.cc).
  struct Outcome;

 public:
  // InvalidArgument when `signer` is null; DataLoss for a broken chain (see
  // above); the Database's errors otherwise.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(storage::Database& db,
                                                          CheckpointSigner* signer,
                                                          const Clock& clock,
                                                          AuditOptions options = {});

  // A record appended by AppendUnsynced, for a later Append to follow.
  // Holds only the outcome of its batch's write (shared by the batch's
  // records), not the batch: a challenge keeps its ticket for its lifetime.
  class Ticket {
   public:
    uint64_t sequence() const { return sequence_; }

   private:
    friend class AuditLog;
    std::shared_ptr<const Outcome> outcome_;
    uint64_t sequence_ = 0;
  };

  // Appends `entry` as the next record (with a checkpoint when one is due)
  // and returns it once the synced batch holding it is written (group
  // commit, see above). InvalidArgument from ValidateAuditEntry(); the
  // Database's error when the write of its batch, or of the batch ahead of
  // it, fails (nothing is appended then). A failing checkpoint signature
  // does not block the append: it is logged and retried on the next append.
  //
  // With `after` (a ticket of this log), the record is appended only while
  // that earlier record is durable or still on its way: Unavailable, and
  // nothing appended, once its write has failed. Since batches are written
  // in order and a failed write fails the batch gathering behind it, OK then
  // also means the `after` record is durable.
  absl::StatusOr<AuditRecord> Append(AuditEntry entry, const Ticket* after = nullptr);

  // Appends `entry` like Append but returns at once, before it is durable:
  // it goes out with the next batch written (the next Append's, Flush's or
  // Checkpoint's), and is lost if the process dies first. For records of
  // acts that have no effect until a later record says so (a challenge,
  // which Attest redeems with Append(..., &ticket)). InvalidArgument from
  // ValidateAuditEntry(); with `after`, refused as Append refuses.
  absl::StatusOr<Ticket> AppendUnsynced(AuditEntry entry, const Ticket* after = nullptr);

  // Writes the records appended so far and returns once every one of them is
  // durable, its write's status: those not yet on their way, or else the
  // write in flight (OK at once when there is neither).
  absl::Status Flush();

  // Signs and stores a checkpoint of the latest appended record (or returns
  // the existing one when that record is already checkpointed), once it is
  // durable, and moves the anchor (if any) to it. FailedPrecondition on an
  // empty log; the signer's, the Database's or the anchor's error otherwise
  // (after the anchor's, the checkpoint is stored).
  absl::StatusOr<AuditCheckpoint> Checkpoint();

  // Writes records from `from_sequence` to the head as of the call (after a
  // Flush of records appended unsynced), with
  // their checkpoints, the public keys that signed them and a signed trailer.
  // `from_sequence` may be head + 1 (an export of no records that still
  // proves the head). OutOfRange for 0 or past head + 1; DataLoss when a
  // stored record cannot be read; Internal when `out` fails.
  absl::Status Export(uint64_t from_sequence, std::ostream& out);

  // The latest durable record.
  AuditHead head() const;

  // Called once at start, before anything else is appended: when the head
  // found at open is past the last signed checkpoint (the previous process
  // did not stop cleanly, which would have signed its head), appends a record
  // saying which records (first..last) were then under no signature, since
  // the next checkpoint will vouch for them as they are found now. With a
  // head MAC key whose MAC of the head verified at open (an edit of them
  // would have failed Create()), the record says so (reason id
  // audit.head_mac_verified_at_start); without one (no key, or a head stored
  // without a MAC, which the detail says) an edit made while the server was
  // down is not detectable after that (audit.unsigned_at_start). nullopt
  // when every record was signed.
  absl::StatusOr<std::optional<AuditRecord>> NoteUnsignedTailAtOpen();
  // OK, or the DataLoss found at start-up when open_despite_broken_chain let
  // the log open anyway.
  absl::Status integrity_at_open() const { return integrity_at_open_; }

 private:
  AuditLog(storage::Database& db, CheckpointSigner& signer, const Clock& clock,
           AuditOptions options, CheckpointVerifyKey signer_key);

  absl::Status Recover();
  // REQUIRES: mu_ held. Numbers, chains and adds `entry` (validated) to the
  // open batch, with a checkpoint when one is due.
  AuditRecord AppendLocked(AuditEntry entry);
  // REQUIRES: mu_ held. Unavailable when `after`'s write has failed.
  static absl::Status CheckAfter(const Ticket* after);
  absl::StatusOr<CheckpointVerifyKey> KeyFor(const std::string& key_id) const;
  // REQUIRES: mu_ held. Signs the head and adds the checkpoint (and the
  // signer's public key until it is stored) to `batch`.
  absl::StatusOr<AuditCheckpoint> SignHead(uint64_t sequence, const Bytes& hash,
                                           rocksdb::WriteBatch& batch);
  // REQUIRES: `lock` holds mu_. Returns once `batch` is written (OK) or has
  // failed (its status); writes it itself once no other write is in flight.
  // `lock` may be released on return.
  absl::Status AwaitCommit(std::unique_lock<std::mutex>& lock,
                           const std::shared_ptr<PendingBatch>& batch);
  // Moves the anchor to `mark` (durable) unless it is already there or
  // further; OK without an anchor. REQUIRES: mu_ not held (an HSM write).
  absl::Status AdvanceAnchor(const AuditHead& mark);
  // REQUIRES: mu_ held. Updates the durable state after `batch` was written
  // with status `s`, or rolls the chain back when it failed.
  void FinishCommit(PendingBatch& batch, const absl::Status& s);

  storage::Database& db_;
  CheckpointSigner& signer_;
  const Clock& clock_;
  const AuditOptions options_;
  const CheckpointVerifyKey signer_key_;
  absl::Status integrity_at_open_;
  // Serializes AdvanceAnchor; the sequence the anchor holds (read at open).
  std::mutex anchor_mu_;
  uint64_t anchored_sequence_ = 0;  // guarded by anchor_mu_
  // What Recover() found of the head MAC (kNotChecked: no key, or a broken
  // chain, or no MAC and no records past the last checkpoint; kAbsent: no
  // MAC and records past it; kStale: the MAC of an earlier record verified,
  // head_mac_verified_through_, and the records after it carry none).
  enum class HeadMacAtOpen { kNotChecked, kAbsent, kVerified, kStale };
  HeadMacAtOpen head_mac_at_open_ = HeadMacAtOpen::kNotChecked;
  uint64_t head_mac_verified_through_ = 0;
  // False after a forensic open (open_despite_broken_chain): heads are then
  // written without a MAC (and the stored one removed).
  bool write_head_mac_ = true;

  mutable std::mutex mu_;
  // Durable: the last record and checkpoint written.
  AuditHead head_;                                   // guarded by mu_
  std::optional<AuditCheckpoint> last_checkpoint_;   // guarded by mu_
  bool signer_key_stored_ = false;                   // guarded by mu_
  // Assigned: the chain including records still waiting to be written.
  AuditHead assigned_head_;                              // guarded by mu_
  std::optional<AuditCheckpoint> assigned_checkpoint_;   // guarded by mu_
  // The batch that holds assigned_checkpoint_ while it is not durable.
  std::shared_ptr<PendingBatch> checkpoint_batch_;       // guarded by mu_
  std::shared_ptr<PendingBatch> open_;                   // guarded by mu_; never null
  // The batch being written; null when no write is in flight.
  std::shared_ptr<PendingBatch> writing_;  // guarded by mu_
  // Non-empty once a write threw: why every append is refused until the log
  // is created again (guarded by mu_).
  std::string broken_;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_
