// Fuzzes the NVIDIA report path: payload decoding (binary or hex), the SPDM
// GET_MEASUREMENTS request/response parser, the opaque-data decoder, the
// signed-message builder, and NvidiaVerifier::Verify up to the point where
// it needs a certificate chain.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "attest/nvidia/nvidia_verifier.h"
#include "attest/nvidia/opaque_data.h"
#include "attest/nvidia/spdm_report.h"

namespace sa = strongroom::attest;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string payload(reinterpret_cast<const char*>(data), size);
  auto report = sa::DecodeNvidiaReportPayload(payload);
  if (report.ok()) {
    auto parsed = sa::ParseSpdmMeasurementReport(*report);
    if (parsed.ok()) {
      strongroom::Bytes message = sa::SpdmSignedMessage(*parsed, *report);
      (void)message;
      auto fields = sa::ParseNvidiaOpaqueData(parsed->opaque);
      if (fields.ok()) {
        sa::Claims claims;
        std::vector<std::string> warnings;
        sa::AddNvidiaOpaqueClaims(*fields, "nvidia.opaque.", claims, warnings);
      }
    }
  }
  // Also the raw bytes as an opaque-data blob.
  (void)sa::ParseNvidiaOpaqueData({data, size});

  static const sa::NvidiaVerifier* verifier =
      sa::NvidiaVerifier::Create({}).value().release();
  sa::Evidence evidence{.type = sa::EvidenceType::kNvidia, .payload = payload};
  sa::VerifyContext ctx{.at = absl::FromUnixSeconds(1717200000)};
  (void)verifier->Verify(evidence, ctx);
  return 0;
}
