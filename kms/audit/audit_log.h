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
// Thread-safety: all methods may be called concurrently. Appends and
// checkpoints are serialized by one mutex (including the HSM signature every
// `checkpoint_every` records); Export() holds it only to take a snapshot of
// the head. The Database, the signer and the clock must outlive the log.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
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
};

struct AuditHead {
  uint64_t sequence = 0;   // 0: empty log
  Bytes hash;              // GenesisHash() for an empty log
};

class AuditLog {
 public:
  // InvalidArgument when `signer` is null; DataLoss for a broken chain (see
  // above); the Database's errors otherwise.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(storage::Database& db,
                                                          CheckpointSigner* signer,
                                                          const Clock& clock,
                                                          AuditOptions options = {});

  // Appends `entry` as the next record in one synced write batch (with a
  // checkpoint when one is due) and returns it. InvalidArgument from
  // ValidateAuditEntry(); the Database's error when the write fails (nothing
  // is appended then). A failing checkpoint signature does not block the
  // append: it is logged and retried on the next append.
  absl::StatusOr<AuditRecord> Append(AuditEntry entry);

  // Signs and stores a checkpoint of the current head (or returns the
  // existing one when the head is already checkpointed). FailedPrecondition
  // on an empty log; the signer's or the Database's error otherwise.
  absl::StatusOr<AuditCheckpoint> Checkpoint();

  // Writes records from `from_sequence` to the head as of the call, with
  // their checkpoints, the public keys that signed them and a signed trailer.
  // `from_sequence` may be head + 1 (an export of no records that still
  // proves the head). OutOfRange for 0 or past head + 1; DataLoss when a
  // stored record cannot be read; Internal when `out` fails.
  absl::Status Export(uint64_t from_sequence, std::ostream& out);

  AuditHead head() const;
  // OK, or the DataLoss found at start-up when open_despite_broken_chain let
  // the log open anyway.
  absl::Status integrity_at_open() const { return integrity_at_open_; }

 private:
  AuditLog(storage::Database& db, CheckpointSigner& signer, const Clock& clock,
           AuditOptions options, CheckpointVerifyKey signer_key)
      : db_(db), signer_(signer), clock_(clock), options_(options),
        signer_key_(std::move(signer_key)) {}

  absl::Status Recover();
  absl::StatusOr<CheckpointVerifyKey> KeyFor(const std::string& key_id) const;
  // REQUIRES: mu_ held. Signs the head and adds the checkpoint (and the
  // signer's public key, the first time) to `batch`.
  absl::StatusOr<AuditCheckpoint> SignHead(uint64_t sequence, const Bytes& hash,
                                           rocksdb::WriteBatch& batch);

  storage::Database& db_;
  CheckpointSigner& signer_;
  const Clock& clock_;
  const AuditOptions options_;
  const CheckpointVerifyKey signer_key_;
  absl::Status integrity_at_open_;

  mutable std::mutex mu_;
  AuditHead head_;                              // guarded by mu_
  std::optional<AuditCheckpoint> last_checkpoint_;  // guarded by mu_
  bool signer_key_stored_ = false;              // guarded by mu_
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_LOG_H_
