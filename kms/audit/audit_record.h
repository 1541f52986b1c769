// Audit records, checkpoints and export framing of the key broker's
// tamper-evident log, and the canonical byte encodings their hashes and
// signatures are computed over (docs/audit.md describes the same encodings
// for auditors who recompute them).
//
// Canonical encoding. Every hashed or signed message is a concatenation of
// fields, each written as a 4-byte big-endian length followed by the field's
// bytes. The first field is a domain tag ("strongroom.audit.record.v1", ...),
// so a record can never be mistaken for a checkpoint or a trailer. Strings are
// their UTF-8 bytes; unsigned integers are 8 bytes big-endian; times are
// microseconds since the Unix epoch as 8 bytes big-endian two's complement;
// hashes are their 32 raw bytes.
//
//   record hash = SHA-256(enc("strongroom.audit.record.v1") || enc(sequence) ||
//     enc(time_unix_us) || enc(principal) || enc(action) || enc(resource) ||
//     enc(decision) || enc(reason_id) || enc(reason_detail) ||
//     enc(evidence_digest) || enc(policy_digest) || enc(key_version) ||
//     enc(prev_hash))
//
// The first record (sequence 1) has prev_hash = 32 zero bytes.
//
// Secrets never enter a record: every field is an identifier, a digest or
// human text. ValidateAuditEntry() enforces what it can (digest syntax, PEM
// blocks refused, sizes, UTF-8); callers log AuditDigest(secret-bearing
// bytes), never the bytes.
//
// Value types; thread-compatible.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_RECORD_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_RECORD_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"

namespace strongroom::kms {

inline constexpr size_t kAuditHashBytes = 32;

enum class AuditDecision { kAllow, kDeny, kInfo };

// "allow" | "deny" | "info" (the strings that are hashed and exported).
absl::string_view AuditDecisionName(AuditDecision decision);
// InvalidArgument naming the value for anything else.
absl::StatusOr<AuditDecision> ParseAuditDecision(absl::string_view name);

// What a caller appends: one decision of the broker or one admin change.
struct AuditEntry {
  // The authenticated caller (e.g. "spiffe://strongroom/admin"); empty for
  // the broker itself (maintenance, start-up).
  std::string principal;
  // Dotted lowercase verb, e.g. "broker.challenge", "broker.attest",
  // "broker.release", "admin.policy.put". Required.
  std::string action;
  // The object acted on, e.g. "keys/k1/versions/3", "policies/p1".
  std::string resource;
  AuditDecision decision = AuditDecision::kInfo;
  // Stable reason id the caller can look up (e.g. "attest.tcb_out_of_date");
  // required for kDeny.
  std::string reason_id;
  // Human-readable detail behind the reason id. Never a secret.
  std::string reason_detail;
  // "sha256:<hex>" (or sha384/sha512) of the evidence appraised, or empty.
  std::string evidence_digest;
  // Digest of the policy applied, same syntax, or empty.
  std::string policy_digest;
  // The key version released or changed; 0 when none is involved.
  uint64_t key_version = 0;
};

struct AuditRecord {
  uint64_t sequence = 0;   // from 1, gap-free
  int64_t time_unix_us = 0;
  AuditEntry entry;
  Bytes prev_hash;         // kAuditHashBytes
  Bytes hash;              // kAuditHashBytes, = ComputeRecordHash(*this)

  absl::Time time() const { return absl::FromUnixMicros(time_unix_us); }
};

// A signed statement "the log's head at `sequence` is `head_hash`".
//   signed message = enc("strongroom.audit.checkpoint.v1") || enc(sequence) ||
//     enc(head_hash) || enc(time_unix_us) || enc(key_id)
// Signature: ECDSA P-256 over SHA-256 of that message, DER-encoded.
struct AuditCheckpoint {
  uint64_t sequence = 0;
  Bytes head_hash;
  int64_t time_unix_us = 0;
  std::string key_id;      // lowercase hex SHA-256 of the key's DER SubjectPublicKeyInfo
  Bytes signature;         // DER ECDSA
};

// The last line of an export, signed at export time, so a truncated export
// (or one with records added or removed at either end) is detectable.
//   signed message = enc("strongroom.audit.export-trailer.v1") ||
//     enc(from_sequence) || enc(first_prev_hash) || enc(last_sequence) ||
//     enc(head_hash) || enc(record_count) || enc(checkpoint_count) ||
//     enc(last_checkpoint_sequence) || enc(exported_at_unix_us) || enc(key_id)
struct AuditExportTrailer {
  uint64_t from_sequence = 0;
  Bytes first_prev_hash;            // prev_hash of record from_sequence
  uint64_t last_sequence = 0;       // from_sequence - 1 + record_count
  Bytes head_hash;                  // hash of record last_sequence
  uint64_t record_count = 0;
  uint64_t checkpoint_count = 0;    // checkpoint lines in the export
  uint64_t last_checkpoint_sequence = 0;  // 0 when the export has none
  int64_t exported_at_unix_us = 0;
  std::string key_id;
  Bytes signature;
};

// The canonical bytes hashed into AuditRecord::hash (everything but `hash`).
Bytes RecordHashInput(const AuditRecord& record);
Bytes ComputeRecordHash(const AuditRecord& record);
Bytes CheckpointSignedMessage(const AuditCheckpoint& checkpoint);
Bytes TrailerSignedMessage(const AuditExportTrailer& trailer);

// 32 zero bytes: prev_hash of record 1.
Bytes GenesisHash();

// A record of the chain by sequence and hash: the log's head, or a mark of
// how far it reached (AuditAnchor).
struct AuditHead {
  uint64_t sequence = 0;  // 0: empty log
  Bytes hash;             // GenesisHash() for an empty log
};

// "sha256:" + lowercase hex of SHA-256(data): how evidence, policies, tokens
// and anything else that must not be logged enter a record.
std::string AuditDigest(std::span<const uint8_t> data);

// `text` made fit for reason_detail, whatever it holds (a verifier's message
// quoting its input, a policy's every failed clause): invalid UTF-8 bytes
// become '?', a PEM marker "[PEM]", and past the field's limit it is cut at
// a character boundary and marked. A denial's record is then never lost to
// the wording of its reason.
std::string AuditSafeDetail(absl::string_view text);
// The same for the resource field (1 KiB): a name as a caller gave it.
std::string AuditSafeResource(absl::string_view text);

// OK when `entry` may be appended; InvalidArgument naming the field and the
// rule otherwise (the message quotes lengths and syntax, never the value of
// a free-text field).
absl::Status ValidateAuditEntry(const AuditEntry& entry);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_RECORD_H_
