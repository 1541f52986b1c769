// AuditLog::Export: the offline-verifiable JSON-lines export.
//
// Stored records and checkpoints are copied byte for byte (never re-encoded),
// so whatever happened to them in the database shows up in VerifyExport. The
// trailer is built from the in-memory head, which Create() verified.
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/audit/audit_json.h"
#include "kms/audit/audit_log.h"
#include "kms/audit/audit_storage.h"

namespace strongroom::kms {

using audit_internal::CheckpointKey;
using audit_internal::HeaderLine;
using audit_internal::kCheckpointPrefix;
using audit_internal::KeyLine;
using audit_internal::kRecordPrefix;
using audit_internal::ParseCheckpointLine;
using audit_internal::ParseRecordLine;
using audit_internal::RecordKey;
using audit_internal::SequenceFromKey;
using audit_internal::TrailerLine;

absl::Status AuditLog::Export(uint64_t from_sequence, std::ostream& out) {
  // Records appended unsynced go out first; if that write fails the export
  // still proves what is durable.
  if (absl::Status s = Flush(); !s.ok()) {
    LogWarning("audit.flush_failed", {{"error", std::string(s.message())}});
  }
  const AuditHead head = this->head();
  if (from_sequence == 0 || from_sequence > head.sequence + 1) {
    return absl::OutOfRangeError(absl::StrCat("export from_sequence ", from_sequence,
                                              " must be in 1..", head.sequence + 1));
  }

  AuditExportTrailer trailer;
  trailer.from_sequence = from_sequence;
  trailer.last_sequence = head.sequence;
  trailer.head_hash = head.hash;
  trailer.record_count = head.sequence - from_sequence + 1;
  if (from_sequence == 1) {
    trailer.first_prev_hash = GenesisHash();
  } else if (from_sequence == head.sequence + 1) {
    trailer.first_prev_hash = head.hash;
  } else {
    absl::StatusOr<std::string> v = db_.Get(RecordKey(from_sequence));
    absl::StatusOr<AuditRecord> first =
        v.ok() ? ParseRecordLine(*v) : absl::StatusOr<AuditRecord>(v.status());
    if (!first.ok()) {
      return absl::DataLossError(absl::StrCat("audit record ", from_sequence,
                                              " cannot be read: ", first.status().message()));
    }
    trailer.first_prev_hash = first->prev_hash;
  }

  // Checkpoints in range (few: one per checkpoint_every records) and their keys.
  std::vector<std::pair<uint64_t, std::string>> checkpoints;
  std::set<std::string> key_ids = {signer_key_.key_id()};
  RETURN_IF_ERROR(db_.Scan(kCheckpointPrefix, CheckpointKey(from_sequence - 1),
                           [&](absl::string_view k, absl::string_view v) {
                             std::optional<uint64_t> seq = SequenceFromKey(k, kCheckpointPrefix);
                             if (seq && *seq > head.sequence) return false;
                             if (absl::StatusOr<AuditCheckpoint> c = ParseCheckpointLine(v);
                                 c.ok()) {
                               key_ids.insert(c->key_id);
                             }
                             checkpoints.emplace_back(seq.value_or(0), std::string(v));
                             return true;
                           }));
  trailer.checkpoint_count = checkpoints.size();
  trailer.last_checkpoint_sequence = checkpoints.empty() ? 0 : checkpoints.back().first;

  out << HeaderLine(from_sequence) << '\n';
  for (const std::string& id : key_ids) {
    // A key that cannot be found is left out: the verifier then reports the
    // checkpoints it signed.
    if (absl::StatusOr<CheckpointVerifyKey> key = KeyFor(id); key.ok()) {
      out << KeyLine(*key) << '\n';
    }
  }
  size_t next_checkpoint = 0;
  RETURN_IF_ERROR(db_.Scan(kRecordPrefix, from_sequence == 1 ? "" : RecordKey(from_sequence - 1),
                           [&](absl::string_view k, absl::string_view v) {
                             std::optional<uint64_t> seq = SequenceFromKey(k, kRecordPrefix);
                             if (seq && *seq > head.sequence) return false;
                             out << v << '\n';
                             while (next_checkpoint < checkpoints.size() && seq &&
                                    checkpoints[next_checkpoint].first <= *seq) {
                               out << checkpoints[next_checkpoint++].second << '\n';
                             }
                             return static_cast<bool>(out);
                           }));
  while (next_checkpoint < checkpoints.size()) {
    out << checkpoints[next_checkpoint++].second << '\n';
  }

  trailer.exported_at_unix_us = absl::ToUnixMicros(clock_.Now());
  trailer.key_id = signer_key_.key_id();
  Bytes message = TrailerSignedMessage(trailer);
  ASSIGN_OR_RETURN(trailer.signature, signer_.Sign(message));
  if (!signer_key_.Verify(message, trailer.signature).ok()) {
    return absl::InternalError(absl::StrCat("checkpoint signer returned an export trailer "
                                            "signature that does not verify under its key ",
                                            trailer.key_id));
  }
  out << TrailerLine(trailer) << '\n';
  out.flush();
  if (!out) return absl::InternalError("audit export: writing to the output stream failed");
  return absl::OkStatus();
}

}  // namespace strongroom::kms
