#include "kms/audit/audit_record.h"

#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace strongroom::kms {
namespace {

constexpr absl::string_view kRecordTag = "strongroom.audit.record.v1";
constexpr absl::string_view kCheckpointTag = "strongroom.audit.checkpoint.v1";
constexpr absl::string_view kTrailerTag = "strongroom.audit.export-trailer.v1";

constexpr size_t kMaxIdBytes = 128;        // action, reason_id
constexpr size_t kMaxNameBytes = 1024;     // principal, resource
constexpr size_t kMaxDetailBytes = 4096;   // reason_detail

// Length-prefixed field writer for the canonical encoding.
class CanonicalWriter {
 public:
  explicit CanonicalWriter(absl::string_view tag) { Field(AsBytes(tag)); }
  CanonicalWriter& Str(absl::string_view s) { return Field(AsBytes(s)); }
  CanonicalWriter& Raw(std::span<const uint8_t> b) { return Field(b); }
  CanonicalWriter& U64(uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
    return Field(b);
  }
  CanonicalWriter& I64(int64_t v) { return U64(static_cast<uint64_t>(v)); }
  Bytes Take() { return std::move(out_); }

 private:
  CanonicalWriter& Field(std::span<const uint8_t> b) {
    uint32_t n = static_cast<uint32_t>(b.size());
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(n >> (24 - 8 * i)));
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  Bytes out_;
};

Bytes Sha256(std::span<const uint8_t> data) {
  Bytes out(SHA256_DIGEST_LENGTH);
  SHA256(data.data(), data.size(), out.data());
  return out;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    size_t n;
    uint32_t cp;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + n >= s.size()) return false;  // continuation bytes run past the end
    for (size_t k = 1; k <= n; ++k) {
      uint8_t cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool IsIdChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '-';
}

// The length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8SequenceAt(absl::string_view s, size_t i) {
  size_t n = 0;
  while (n < 4 && i + n < s.size()) {
    ++n;
    if (IsValidUtf8(s.substr(i, n))) return n;
  }
  return 0;
}

absl::Status CheckText(absl::string_view field, absl::string_view value, size_t max) {
  if (value.size() > max) {
    return absl::InvalidArgumentError(absl::StrCat("audit entry field '", field, "' is ",
                                                   value.size(), " bytes; at most ", max));
  }
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit entry field '", field, "' is not valid UTF-8"));
  }
  // Key material in PEM form is the likeliest secret to be pasted into a
  // message by mistake; refuse it outright.
  if (absl::StrContains(value, "-----BEGIN")) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit entry field '", field,
                     "' contains a PEM block; log its AuditDigest() instead"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

std::string SafeText(absl::string_view text, size_t max_bytes) {
  constexpr absl::string_view kCut = " ...(cut)";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    if (absl::StartsWith(text.substr(i), "-----BEGIN")) {
      out += "[PEM]";
      i += sizeof("-----BEGIN") - 1;
      continue;
    }
    const size_t n = Utf8SequenceAt(text, i);
    const absl::string_view next = n == 0 ? absl::string_view("?") : text.substr(i, n);
    if (out.size() + next.size() > max_bytes - kCut.size()) {
      absl::StrAppend(&out, kCut);
      break;
    }
    absl::StrAppend(&out, next);
    i += n == 0 ? 1 : n;
  }
  return out;
}

}  // namespace

std::string AuditSafeDetail(absl::string_view text) { return SafeText(text, kMaxDetailBytes); }

std::string AuditSafeResource(absl::string_view text) { return SafeText(text, kMaxNameBytes); }

namespace {

absl::Status CheckId(absl::string_view field, absl::string_view value, bool required) {
  if (value.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("audit entry field '", field, "' is required"));
  }
  if (value.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("audit entry field '", field, "' is ",
                                                   value.size(), " bytes; at most ",
                                                   kMaxIdBytes));
  }
  for (char c : value) {
    if (!IsIdChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "audit entry field '", field, "' = '", value,
          "' must use only lowercase letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckDigest(absl::string_view field, absl::string_view value) {
  if (value.empty()) return absl::OkStatus();
  size_t colon = value.find(':');
  absl::string_view alg = value.substr(0, colon);
  size_t want = alg == "sha256" ? 64 : alg == "sha384" ? 96 : alg == "sha512" ? 128 : 0;
  absl::string_view hex =
      colon == absl::string_view::npos ? absl::string_view() : value.substr(colon + 1);
  bool ok = want != 0 && hex.size() == want;
  for (char c : hex) ok = ok && (absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'));
  if (!ok) {
    // The value may be whatever the caller mistook for a digest: give only its length.
    return absl::InvalidArgumentError(absl::StrCat(
        "audit entry field '", field, "' (", value.size(),
        " bytes) must be empty or '<sha256|sha384|sha512>:<lowercase hex digest>'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view AuditDecisionName(AuditDecision decision) {
  switch (decision) {
    case AuditDecision::kAllow: return "allow";
    case AuditDecision::kDeny: return "deny";
    case AuditDecision::kInfo: return "info";
  }
  return "unknown";
}

absl::StatusOr<AuditDecision> ParseAuditDecision(absl::string_view name) {
  if (name == "allow") return AuditDecision::kAllow;
  if (name == "deny") return AuditDecision::kDeny;
  if (name == "info") return AuditDecision::kInfo;
  return absl::InvalidArgumentError(
      absl::StrCat("audit decision '", name, "' is not one of allow, deny, info"));
}

Bytes RecordHashInput(const AuditRecord& r) {
  const AuditEntry& e = r.entry;
  return CanonicalWriter(kRecordTag)
      .U64(r.sequence)
      .I64(r.time_unix_us)
      .Str(e.principal)
      .Str(e.action)
      .Str(e.resource)
      .Str(AuditDecisionName(e.decision))
      .Str(e.reason_id)
      .Str(e.reason_detail)
      .Str(e.evidence_digest)
      .Str(e.policy_digest)
      .U64(e.key_version)
      .Raw(r.prev_hash)
      .Take();
}

Bytes ComputeRecordHash(const AuditRecord& record) { return Sha256(RecordHashInput(record)); }

Bytes CheckpointSignedMessage(const AuditCheckpoint& c) {
  return CanonicalWriter(kCheckpointTag)
      .U64(c.sequence)
      .Raw(c.head_hash)
      .I64(c.time_unix_us)
      .Str(c.key_id)
      .Take();
}

Bytes TrailerSignedMessage(const AuditExportTrailer& t) {
  return CanonicalWriter(kTrailerTag)
      .U64(t.from_sequence)
      .Raw(t.first_prev_hash)
      .U64(t.last_sequence)
      .Raw(t.head_hash)
      .U64(t.record_count)
      .U64(t.checkpoint_count)
      .U64(t.last_checkpoint_sequence)
      .I64(t.exported_at_unix_us)
      .Str(t.key_id)
      .Take();
}

Bytes GenesisHash() { return Bytes(kAuditHashBytes, 0); }

std::string AuditDigest(std::span<const uint8_t> data) {
  return absl::StrCat("sha256:", HexEncode(Sha256(data)));
}

absl::Status ValidateAuditEntry(const AuditEntry& e) {
  if (absl::Status s = CheckId("action", e.action, /*required=*/true); !s.ok()) return s;
  if (absl::Status s = CheckId("reason_id", e.reason_id, e.decision == AuditDecision::kDeny);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("principal", e.principal, kMaxNameBytes); !s.ok()) return s;
  if (absl::Status s = CheckText("resource", e.resource, kMaxNameBytes); !s.ok()) return s;
  if (absl::Status s = CheckText("reason_detail", e.reason_detail, kMaxDetailBytes); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckDigest("evidence_digest", e.evidence_digest); !s.ok()) return s;
  return CheckDigest("policy_digest", e.policy_digest);
}

}  // namespace strongroom::kms
