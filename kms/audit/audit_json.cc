#include "kms/audit/audit_json.h"

#include <limits>

#include "absl/strings/str_cat.h"
#include "base/hex_text.h"
#include "base/status_macros.h"

namespace strongroom::kms::audit_internal {
namespace {

using nlohmann::json;

constexpr size_t kMaxSignatureBytes = 256;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

// Our lines are flat objects: refuse anything nested before the parser (and
// the recursive serializer) sees it.
bool IsFlat(absl::string_view line) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : line) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') {
      if (++depth > 1) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

// An untrusted value quoted in an error message, cut to a readable length at
// a UTF-8 character boundary (a cut inside a character made the message
// invalid UTF-8, which `audit verify --json` could not print).
std::string Quote(absl::string_view s) {
  if (s.size() <= 40) return std::string(s);
  size_t cut = 40;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return absl::StrCat(s.substr(0, cut), "...");
}

// Reads the members of one line, remembering the first error and how many
// members were consumed (Finish() refuses unknown members).
class Members {
 public:
  Members(const json& j, absl::string_view type) : j_(j), type_(type) {}

  std::string Str(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return "";
    if (!v->is_string()) { Fail(name, "must be a string"); return ""; }
    return v->get_ref<const std::string&>();
  }
  uint64_t U64(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    if (!v->is_number_unsigned()) { Fail(name, "must be an unsigned integer"); return 0; }
    return v->get<uint64_t>();
  }
  int64_t I64(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        Fail(name, "is out of range");
        return 0;
      }
      return static_cast<int64_t>(u);
    }
    if (!v->is_number_integer()) { Fail(name, "must be an integer"); return 0; }
    return v->get<int64_t>();
  }
  // 32 bytes as 64 lowercase hex digits.
  Bytes Hash(const char* name) {
    std::string s = Str(name);
    if (!status_.ok()) return {};
    if (s.size() != 2 * kAuditHashBytes || !IsLowerHex(s)) {
      Fail(name, "must be 64 lowercase hex digits");
      return {};
    }
    return *HexDecode(s, name);
  }
  Bytes Signature(const char* name) {
    std::string s = Str(name);
    if (!status_.ok()) return {};
    absl::StatusOr<Bytes> b = Base64Decode(s, name);
    if (!b.ok() || b->empty() || b->size() > kMaxSignatureBytes || Base64Encode(*b) != s) {
      Fail(name, "must be canonical padded base64 of 1..256 bytes");
      return {};
    }
    return *std::move(b);
  }

  absl::Status Finish(size_t expected_members) {
    if (status_.ok() && j_.size() != expected_members) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          type_, " line has ", j_.size(), " members; expected ", expected_members));
    }
    return status_;
  }

 private:
  const json* Find(const char* name) {
    if (!status_.ok()) return nullptr;
    auto it = j_.find(name);
    if (it == j_.end()) {
      Fail(name, "is missing");
      return nullptr;
    }
    return &*it;
  }
  void Fail(const char* name, absl::string_view why) {
    if (status_.ok()) {
      status_ = absl::InvalidArgumentError(absl::StrCat(type_, " member '", name, "' ", why));
    }
  }

  const json& j_;
  absl::string_view type_;
  absl::Status status_;
};

// True when `s` is printable ASCII without a quote or a backslash: nlohmann
// writes such a string as it is, between quotes.
bool PlainAscii(absl::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') return false;
  }
  return true;
}

// Appends `,"name":"value"` / `,"name":number`.
void AppendString(std::string& out, absl::string_view name, absl::string_view value) {
  absl::StrAppend(&out, ",\"", name, "\":\"", value, "\"");
}

void AppendNumber(std::string& out, absl::string_view name, absl::AlphaNum value) {
  absl::StrAppend(&out, ",\"", name, "\":", value);
}

}  // namespace

std::string RecordLine(const AuditRecord& r) {
  const AuditEntry& e = r.entry;
  // Written directly when every string is plain ASCII (the usual record): the
  // same bytes as the nlohmann dump below, whose object keeps its members in
  // name order (ParseLine refuses any other form). Anything to escape or
  // non-ASCII takes the dump. The hash chain covers the canonical binary
  // encoding (RecordHashInput), not this line.
  if (PlainAscii(e.principal) && PlainAscii(e.action) && PlainAscii(e.resource) &&
      PlainAscii(e.reason_id) && PlainAscii(e.reason_detail) && PlainAscii(e.evidence_digest) &&
      PlainAscii(e.policy_digest)) {
    std::string out = absl::StrCat("{\"action\":\"", e.action, "\"");
    AppendString(out, "decision", AuditDecisionName(e.decision));
    AppendString(out, "evidence_digest", e.evidence_digest);
    AppendString(out, "hash", HexEncode(r.hash));
    AppendNumber(out, "key_version", e.key_version);
    AppendString(out, "policy_digest", e.policy_digest);
    AppendString(out, "prev_hash", HexEncode(r.prev_hash));
    AppendString(out, "principal", e.principal);
    AppendString(out, "reason_detail", e.reason_detail);
    AppendString(out, "reason_id", e.reason_id);
    AppendString(out, "resource", e.resource);
    AppendNumber(out, "sequence", r.sequence);
    AppendNumber(out, "time_unix_us", r.time_unix_us);
    AppendString(out, "type", "record");
    out.push_back('}');
    return out;
  }
  return RecordLineByDump(r);
}

std::string RecordLineByDump(const AuditRecord& r) {
  const AuditEntry& e = r.entry;
  json j = {{"type", "record"},
            {"sequence", r.sequence},
            {"time_unix_us", r.time_unix_us},
            {"principal", e.principal},
            {"action", e.action},
            {"resource", e.resource},
            {"decision", std::string(AuditDecisionName(e.decision))},
            {"reason_id", e.reason_id},
            {"reason_detail", e.reason_detail},
            {"evidence_digest", e.evidence_digest},
            {"policy_digest", e.policy_digest},
            {"key_version", e.key_version},
            {"prev_hash", HexEncode(r.prev_hash)},
            {"hash", HexEncode(r.hash)}};
  return Dump(j);
}

std::string CheckpointLine(const AuditCheckpoint& c) {
  json j = {{"type", "checkpoint"},
            {"sequence", c.sequence},
            {"head_hash", HexEncode(c.head_hash)},
            {"time_unix_us", c.time_unix_us},
            {"key_id", c.key_id},
            {"signature", Base64Encode(c.signature)}};
  return Dump(j);
}

std::string KeyLine(const CheckpointVerifyKey& key) {
  json j = {{"type", "key"}, {"key_id", key.key_id()}, {"public_key_pem", key.pem()}};
  return Dump(j);
}

std::string HeaderLine(uint64_t from_sequence) {
  json j = {{"type", "header"},
            {"format", std::string(kExportFormat)},
            {"from_sequence", from_sequence}};
  return Dump(j);
}

std::string TrailerLine(const AuditExportTrailer& t) {
  json j = {{"type", "trailer"},
            {"from_sequence", t.from_sequence},
            {"first_prev_hash", HexEncode(t.first_prev_hash)},
            {"last_sequence", t.last_sequence},
            {"head_hash", HexEncode(t.head_hash)},
            {"record_count", t.record_count},
            {"checkpoint_count", t.checkpoint_count},
            {"last_checkpoint_sequence", t.last_checkpoint_sequence},
            {"exported_at_unix_us", t.exported_at_unix_us},
            {"key_id", t.key_id},
            {"signature", Base64Encode(t.signature)}};
  return Dump(j);
}

std::string HeadLine(const HeadPointer& head) {
  json j = {{"type", "head"}, {"sequence", head.sequence}, {"hash", HexEncode(head.hash)}};
  return Dump(j);
}

absl::StatusOr<ParsedLine> ParseLine(absl::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("line is ", line.size(), " bytes; at most ", kMaxLineBytes));
  }
  if (!IsFlat(line)) {
    return absl::InvalidArgumentError("line holds nested JSON values");
  }
  ParsedLine out;
  out.json = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (out.json.is_discarded() || !out.json.is_object()) {
    return absl::InvalidArgumentError("line is not a JSON object");
  }
  if (Dump(out.json) != line) {
    return absl::InvalidArgumentError(
        "line is not in canonical form (sorted keys, no whitespace, minimal escapes)");
  }
  auto type = out.json.find("type");
  if (type == out.json.end() || !type->is_string()) {
    return absl::InvalidArgumentError("line has no string member 'type'");
  }
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "record") out.type = LineType::kRecord;
  else if (t == "checkpoint") out.type = LineType::kCheckpoint;
  else if (t == "key") out.type = LineType::kKey;
  else if (t == "header") out.type = LineType::kHeader;
  else if (t == "trailer") out.type = LineType::kTrailer;
  else if (t == "head") out.type = LineType::kHead;
  else return absl::InvalidArgumentError(absl::StrCat("unknown line type '", Quote(t), "'"));
  return out;
}

absl::StatusOr<AuditRecord> RecordFromJson(const json& j) {
  Members m(j, "record");
  AuditRecord r;
  AuditEntry& e = r.entry;
  r.sequence = m.U64("sequence");
  r.time_unix_us = m.I64("time_unix_us");
  e.principal = m.Str("principal");
  e.action = m.Str("action");
  e.resource = m.Str("resource");
  std::string decision = m.Str("decision");
  e.reason_id = m.Str("reason_id");
  e.reason_detail = m.Str("reason_detail");
  e.evidence_digest = m.Str("evidence_digest");
  e.policy_digest = m.Str("policy_digest");
  e.key_version = m.U64("key_version");
  r.prev_hash = m.Hash("prev_hash");
  r.hash = m.Hash("hash");
  RETURN_IF_ERROR(m.Finish(14));
  ASSIGN_OR_RETURN(e.decision, ParseAuditDecision(decision));
  if (r.sequence == 0) return absl::InvalidArgumentError("record sequence must be >= 1");
  RETURN_IF_ERROR(ValidateAuditEntry(e));
  return r;
}

absl::StatusOr<AuditCheckpoint> CheckpointFromJson(const json& j) {
  Members m(j, "checkpoint");
  AuditCheckpoint c;
  c.sequence = m.U64("sequence");
  c.head_hash = m.Hash("head_hash");
  c.time_unix_us = m.I64("time_unix_us");
  std::string key_id = m.Str("key_id");
  c.signature = m.Signature("signature");
  RETURN_IF_ERROR(m.Finish(6));
  if (key_id.size() != 64 || !IsLowerHex(key_id)) {
    return absl::InvalidArgumentError("checkpoint key_id must be 64 lowercase hex digits");
  }
  c.key_id = std::move(key_id);
  if (c.sequence == 0) return absl::InvalidArgumentError("checkpoint sequence must be >= 1");
  return c;
}

absl::StatusOr<ExportKey> KeyFromJson(const json& j) {
  Members m(j, "key");
  ExportKey k;
  k.key_id = m.Str("key_id");
  k.public_key_pem = m.Str("public_key_pem");
  RETURN_IF_ERROR(m.Finish(3));
  return k;
}

absl::StatusOr<ExportHeader> HeaderFromJson(const json& j) {
  Members m(j, "header");
  ExportHeader h;
  h.format = m.Str("format");
  h.from_sequence = m.U64("from_sequence");
  RETURN_IF_ERROR(m.Finish(3));
  if (h.format != kExportFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("header format '", Quote(h.format), "' is not '", kExportFormat, "'"));
  }
  if (h.from_sequence == 0) {
    return absl::InvalidArgumentError("header from_sequence must be >= 1");
  }
  return h;
}

absl::StatusOr<AuditExportTrailer> TrailerFromJson(const json& j) {
  Members m(j, "trailer");
  AuditExportTrailer t;
  t.from_sequence = m.U64("from_sequence");
  t.first_prev_hash = m.Hash("first_prev_hash");
  t.last_sequence = m.U64("last_sequence");
  t.head_hash = m.Hash("head_hash");
  t.record_count = m.U64("record_count");
  t.checkpoint_count = m.U64("checkpoint_count");
  t.last_checkpoint_sequence = m.U64("last_checkpoint_sequence");
  t.exported_at_unix_us = m.I64("exported_at_unix_us");
  t.key_id = m.Str("key_id");
  t.signature = m.Signature("signature");
  RETURN_IF_ERROR(m.Finish(11));
  return t;
}

absl::StatusOr<HeadPointer> HeadFromJson(const json& j) {
  Members m(j, "head");
  HeadPointer h;
  h.sequence = m.U64("sequence");
  h.hash = m.Hash("hash");
  RETURN_IF_ERROR(m.Finish(3));
  return h;
}

absl::StatusOr<AuditRecord> ParseRecordLine(absl::string_view line) {
  ASSIGN_OR_RETURN(ParsedLine p, ParseLine(line));
  if (p.type != LineType::kRecord) return absl::InvalidArgumentError("not a record line");
  return RecordFromJson(p.json);
}

absl::StatusOr<AuditCheckpoint> ParseCheckpointLine(absl::string_view line) {
  ASSIGN_OR_RETURN(ParsedLine p, ParseLine(line));
  if (p.type != LineType::kCheckpoint) {
    return absl::InvalidArgumentError("not a checkpoint line");
  }
  return CheckpointFromJson(p.json);
}

}  // namespace strongroom::kms::audit_internal
