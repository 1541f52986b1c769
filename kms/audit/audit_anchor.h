// AuditAnchor: where the audit log remembers, outside its own database, how
// far it has reached, so that a start on a database put back to an earlier
// state is refused.
//
// The head MAC (AuditOptions::head_mac_key) proves that a stored head was
// written by this server, but an earlier head with its earlier MAC proves
// the same: someone who can write the database files (or restore an old
// copy of them) can cut the newest records off, MAC and all. The anchor
// holds the sequence and hash of a durable record in a store that person
// cannot write (strongroomd: a private data object in the HSM,
// HsmAuditAnchor); AuditLog::Create refuses a log that ends before the
// anchored record or holds another record under its sequence. The log moves
// the anchor forward whenever a checkpoint becomes durable (every
// `checkpoint_every` records, every `audit.checkpoint_interval`, and at a
// clean stop) and once at open, so a rollback within the records written
// since the last checkpoint is what remains undetected after a crash.
//
// Thread-safety: the log calls Read() once, at Create(), and Write() from one
// thread at a time, with ever larger sequences.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_ANCHOR_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_ANCHOR_H_

#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kms/audit/audit_record.h"

namespace strongroom::kms {

class AuditAnchor {
 public:
  virtual ~AuditAnchor() = default;
  // The stored mark (sequence >= 1 and a 32-byte hash); nullopt when none
  // was ever stored. DataLoss when what is stored cannot be read as a mark.
  virtual absl::StatusOr<std::optional<AuditHead>> Read() = 0;
  // Replaces the stored mark.
  virtual absl::Status Write(const AuditHead& mark) = 0;
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_ANCHOR_H_
