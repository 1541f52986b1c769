// Internal to kms/audit: the JSON-lines form of records, checkpoints, keys and
// the export header and trailer, shared by the RocksDB values, Export() and
// VerifyExport().
//
// Every line is a flat JSON object with a "type" member, serialized with
// sorted keys, no whitespace and UTF-8 left unescaped (nlohmann::json::dump()).
// A parsed line must re-serialize to exactly the same bytes, so any edit that
// keeps the values (whitespace, escapes, number spelling, duplicate keys,
// hex case) is still detected, and every member must be present and no other.
//
// Hashes are lowercase hex; signatures are standard base64 with padding.
// Parse errors are InvalidArgument naming the line type and the member.
#ifndef STRONGROOM_KMS_AUDIT_AUDIT_JSON_H_
#define STRONGROOM_KMS_AUDIT_AUDIT_JSON_H_

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kms/audit/audit_record.h"
#include "kms/audit/checkpoint_signer.h"

namespace strongroom::kms::audit_internal {

inline constexpr absl::string_view kExportFormat = "strongroom.audit.export.v1";
// Longer lines are refused before parsing (a record is at most ~35 KiB even
// with every detail byte escaped).
inline constexpr size_t kMaxLineBytes = 64 * 1024;

enum class LineType { kHeader, kKey, kRecord, kCheckpoint, kTrailer, kHead };

struct ExportHeader {
  std::string format;
  uint64_t from_sequence = 0;
};

struct ExportKey {
  std::string key_id;
  std::string public_key_pem;
};

// The latest record's sequence and hash, kept in RocksDB next to the records.
struct HeadPointer {
  uint64_t sequence = 0;
  Bytes hash;
};

struct ParsedLine {
  LineType type = LineType::kRecord;
  nlohmann::json json;
};

std::string RecordLine(const AuditRecord& record);
// The same line through nlohmann's dump, whatever the strings hold;
// RecordLine writes plain-ASCII records itself and must match this.
std::string RecordLineByDump(const AuditRecord& record);
std::string CheckpointLine(const AuditCheckpoint& checkpoint);
std::string KeyLine(const CheckpointVerifyKey& key);
std::string HeaderLine(uint64_t from_sequence);
std::string TrailerLine(const AuditExportTrailer& trailer);
std::string HeadLine(const HeadPointer& head);

// A canonical flat JSON object of a known type (the members are checked by
// the *FromJson functions below).
absl::StatusOr<ParsedLine> ParseLine(absl::string_view line);

absl::StatusOr<AuditRecord> RecordFromJson(const nlohmann::json& j);
absl::StatusOr<AuditCheckpoint> CheckpointFromJson(const nlohmann::json& j);
absl::StatusOr<ExportKey> KeyFromJson(const nlohmann::json& j);
absl::StatusOr<ExportHeader> HeaderFromJson(const nlohmann::json& j);
absl::StatusOr<AuditExportTrailer> TrailerFromJson(const nlohmann::json& j);
absl::StatusOr<HeadPointer> HeadFromJson(const nlohmann::json& j);

// ParseLine + RecordFromJson (RocksDB values).
absl::StatusOr<AuditRecord> ParseRecordLine(absl::string_view line);
absl::StatusOr<AuditCheckpoint> ParseCheckpointLine(absl::string_view line);

}  // namespace strongroom::kms::audit_internal

#endif  // STRONGROOM_KMS_AUDIT_AUDIT_JSON_H_
