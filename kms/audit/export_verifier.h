// VerifyExport: offline verification of an AuditLog export (JSON lines; the
// format is in docs/audit.md), and a human-readable summary of the result.
//
// The verifier recomputes every record hash and chain link, checks every
// checkpoint and the trailer signature, and stops at the first defect. It
// detects edited, dropped, reordered, duplicated and added records,
// truncation anywhere (including inside a line or of the trailer alone) and
// any edit of a checkpoint, a key line or the trailer.
//
// first_bad_sequence names where the export fails:
//   - a record line that is malformed, altered (its hash does not recompute,
//     its prev_hash does not link), missing, repeated or out of place: the
//     sequence that belongs where the first wrong line is (a gap: the first
//     missing record, also when a checkpoint line shows it is missing; two
//     records swapped: the first of them; a copy of record k inserted after
//     it: k + 1);
//   - anything that fails to vouch for records (a checkpoint or trailer that
//     is malformed, misplaced, contradicts the chain, or whose signature or
//     key fails; an export that ends without a valid trailer, is cut inside a
//     line, or has data after its trailer): the first sequence after the
//     last valid signature, i.e. verified_through + 1;
//   - a problem with the options (an unreadable trusted key): 0.
// verified_through is the last sequence vouched for by a valid checkpoint or
// trailer signature over an intact chain. Records after it are not proven
// authentic even when first_bad_sequence is later: whoever rewrites a tail
// of records and recomputes their hashes is caught only at the next
// signature.
//
// Keys: with trusted_public_keys_pem, only those keys are accepted (pinned).
// Without, the keys listed in the export are used and keys_pinned is false:
// that proves internal consistency, not who signed.
//
// Pure function of its input; thread-safe. Lines longer than 64 KiB are
// refused before parsing, so memory use is bounded by the line limit plus
// the number of distinct keys.
#ifndef STRONGROOM_KMS_AUDIT_EXPORT_VERIFIER_H_
#define STRONGROOM_KMS_AUDIT_EXPORT_VERIFIER_H_

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

namespace strongroom::kms {

struct VerifyExportOptions {
  // PEM "PUBLIC KEY" blocks (P-256) of the checkpoint keys the auditor trusts.
  std::vector<std::string> trusted_public_keys_pem;
  // A head the auditor verified before (sequence, lowercase hex hash; 0:
  // none): the export must still hold it, as a record with that hash or,
  // when it starts right after it, as its first record's prev_hash, and must
  // not end before it. Catches a log cut back and regrown since, and an old
  // export handed over as the current one.
  uint64_t known_sequence = 0;
  std::string known_hash_hex;
};

struct AuditVerifyResult {
  bool ok = false;
  uint64_t first_bad_sequence = 0;   // 0 when ok (see above)
  std::string reason;                // empty when ok
  size_t line = 0;                   // 1-based line of the defect; 0 when ok
  uint64_t from_sequence = 0;        // from the header
  uint64_t records = 0;              // record lines that passed
  uint64_t last_sequence = 0;        // the last record that passed (0: none)
  uint64_t checkpoints = 0;          // checkpoints whose signature verified
  uint64_t verified_through = 0;     // see above
  std::string head_hash;             // lowercase hex hash of last_sequence
  bool keys_pinned = false;
  std::vector<std::string> signing_key_ids;  // keys whose signatures verified
  int64_t exported_at_unix_us = 0;           // the trailer's, once it verified
  bool known_head_checked = false;           // options.known_sequence was found
};

AuditVerifyResult VerifyExport(std::istream& in, const VerifyExportOptions& options = {});

// A few lines for a terminal: verdict, what was covered, when it was
// exported, what is not proven, and a warning when the keys were not pinned.
// Control characters from the export (in a failure's reason) are escaped.
std::string FormatAuditVerifyResult(const AuditVerifyResult& result);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_AUDIT_EXPORT_VERIFIER_H_
