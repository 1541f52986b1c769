// Fuzzes the audit export verifier (kms/audit/export_verifier.h): arbitrary
// bytes as an export file, verified with the keys it lists and with a pinned
// key, then summarized. It must never crash, hang or read out of bounds;
// rejecting the input is the expected outcome.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "kms/audit/export_verifier.h"

namespace {

// The public key of tests/kms/audit/testdata/sample_export.jsonl, so mutated
// seeds still reach the signature checks with a pinned key.
constexpr char kSampleKeyPem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEwz9LJGs7q1aRgr/XDFXvfD19me+o\n"
    "Nh0AbAndFORA4StUuPib+drj83qN3rI/wR7GRmTPv0eVyJpV+CrMglMPQg==\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (bool pinned : {false, true}) {
    std::istringstream in(text);
    strongroom::kms::VerifyExportOptions options;
    if (pinned) options.trusted_public_keys_pem.push_back(kSampleKeyPem);
    strongroom::kms::AuditVerifyResult result = strongroom::kms::VerifyExport(in, options);
    std::string summary = strongroom::kms::FormatAuditVerifyResult(result);
    if (result.ok && result.verified_through != result.last_sequence && result.records > 0) {
      __builtin_trap();  // an accepted export is vouched for to its end
    }
    (void)summary;
  }
  return 0;
}
