// The development evidence format: software-signed claims for demos and
// tests, in place of a TEE report. Never trusted unless a server enables the
// dev verifier and names the signing keys. Full description in
// docs/attestation-dev.md.
//
//   payload  {"format":"strongroom-dev-evidence/1",
//             "body":"<base64url (unpadded) of the body JSON bytes>",
//             "signature":"<base64url of DER ECDSA P-256/SHA-256 over them>",
//             "key_id":"<sha256 hex of the signer's DER SubjectPublicKeyInfo>"}
//   body     {"measurement":"<hex>","report_data":"<hex>","debug":<bool>,
//             "issued_at":<unix seconds>,"svn":<int>,
//             "claims":{"<name>":"<string>",...}}   ("claims" optional)
//
// Parsing is strict: every field present with its type, no unknown or
// duplicate fields, hex lowercase, base64url canonical and unpadded. Errors
// are InvalidArgument "dev evidence: <field>: <why>". Pure functions;
// thread-safe.
#ifndef STRONGROOM_ATTEST_DEV_DEV_EVIDENCE_H_
#define STRONGROOM_ATTEST_DEV_DEV_EVIDENCE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr absl::string_view kDevEvidenceFormat =
    "strongroom-dev-evidence/1";
inline constexpr size_t kDevMaxPayloadSize = 64 * 1024;
inline constexpr size_t kDevMaxMeasurementSize = 64;
inline constexpr size_t kDevMaxReportDataSize = 64;
inline constexpr size_t kDevMaxClaims = 64;
inline constexpr size_t kDevMaxClaimNameSize = 64;
inline constexpr size_t kDevMaxClaimValueSize = 1024;

struct DevEvidenceBody {
  Bytes measurement;  // 1..64 bytes
  Bytes report_data;  // 0..64 bytes
  bool debug = false;
  int64_t issued_at = 0;  // unix seconds, >= 0
  int64_t svn = 0;        // >= 0
  // Names: 1..64 of [A-Za-z0-9_.-]; values: up to 1024 bytes of UTF-8.
  std::map<std::string, std::string> claims;
};

struct DevEvidenceEnvelope {
  std::string body;  // the signed body JSON bytes
  Bytes signature;   // DER ECDSA signature
  std::string key_id;
};

// Field limits and shapes as above; InvalidArgument naming the field.
absl::Status ValidateDevEvidenceBody(const DevEvidenceBody& body);

absl::StatusOr<DevEvidenceEnvelope> ParseDevEvidenceEnvelope(
    absl::string_view payload);
absl::StatusOr<DevEvidenceBody> ParseDevEvidenceBody(absl::string_view json);

// The two parsers above read the usual shape with a scanner
// (attest/fast_json.h) and hand anything else to nlohmann::json. These are
// the nlohmann paths alone, for tests that hold both to the same answers.
namespace dev_internal {
absl::StatusOr<DevEvidenceEnvelope> ParseEnvelopeDom(absl::string_view payload);
absl::StatusOr<DevEvidenceBody> ParseBodyDom(absl::string_view json);
}  // namespace dev_internal

// Compact JSON with keys in sorted order ("claims" left out when empty).
// The body must be valid (ValidateDevEvidenceBody).
std::string SerializeDevEvidenceBody(const DevEvidenceBody& body);
std::string SerializeDevEvidenceEnvelope(const DevEvidenceEnvelope& envelope);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_DEV_DEV_EVIDENCE_H_
