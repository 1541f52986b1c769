// The NVIDIA GPU attestation report: an SPDM GET_MEASUREMENTS request
// followed by the GPU's signed MEASUREMENTS response (DMTF DSP0274 1.1 and
// 1.2), as the driver hands it out (nvtrust "attestation report").
//
// Layout (all integers little-endian), see docs/attestation-nvidia.md:
//   request  (37 B): version, 0xE0, param1 (bit 0: signature requested),
//                    param2 (measurement operation), nonce[32], slot id
//   response       : version, 0x60, param1, param2 (bits 0..3: slot id),
//                    number of blocks (1), record length (3),
//                    measurement record, nonce[32], opaque length (2),
//                    opaque data, signature[96] (P-384 r||s)
//
// Parsing is strict: every length must agree with what follows, nothing may
// trail the signature, and only what can be verified is accepted (a request
// that asked for a signature, DMTF measurement blocks). Pure functions over
// caller-owned bytes; thread-safe. Errors are InvalidArgument
// "nvidia report: <field>: <why>".
#ifndef STRONGROOM_ATTEST_NVIDIA_SPDM_REPORT_H_
#define STRONGROOM_ATTEST_NVIDIA_SPDM_REPORT_H_

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr uint8_t kSpdmVersion11 = 0x11;
inline constexpr uint8_t kSpdmVersion12 = 0x12;
inline constexpr uint8_t kSpdmGetMeasurements = 0xE0;
inline constexpr uint8_t kSpdmMeasurements = 0x60;
inline constexpr size_t kSpdmNonceSize = 32;
inline constexpr size_t kSpdmRequestSize = 4 + kSpdmNonceSize + 1;
// ECDSA P-384 r||s: the only asymmetric algorithm NVIDIA GPUs negotiate. The
// size is not carried in the message (it follows from the negotiated
// algorithm), so the parser assumes it.
inline constexpr size_t kSpdmSignatureSize = 96;
// DSP0274: opaque data "shall not exceed 1024 bytes".
inline constexpr size_t kSpdmMaxOpaqueSize = 1024;
// Upper bound on an accepted report (hex or binary), far above a real one
// (~4 KiB for 64 SHA-384 blocks).
inline constexpr size_t kNvidiaMaxReportSize = 1 << 20;

struct SpdmMeasurementBlock {
  uint8_t index = 0;
  uint8_t value_type = 0;  // DMTF DMTFSpecMeasurementValueType (bit 7: raw)
  Bytes value;
};

struct SpdmMeasurementReport {
  uint8_t version = 0;  // 0x11 or 0x12 (request and response agree)
  // GET_MEASUREMENTS request.
  uint8_t request_param1 = 0;
  uint8_t request_param2 = 0;  // 0xFF: all blocks; else one block index
  std::array<uint8_t, kSpdmNonceSize> request_nonce{};  // the verifier's
  uint8_t slot_id = 0;
  // MEASUREMENTS response.
  uint8_t response_param1 = 0;
  uint8_t response_param2 = 0;
  std::vector<SpdmMeasurementBlock> blocks;              // in report order
  std::array<uint8_t, kSpdmNonceSize> response_nonce{};  // the responder's
  Bytes opaque;
  std::array<uint8_t, kSpdmSignatureSize> signature{};
  // Bytes of the report before the signature: request || response without
  // its signature (SPDM's L1/L2 for a single GET_MEASUREMENTS exchange).
  size_t signed_size = 0;
};

// The report bytes from an evidence payload: either the binary report, or
// its hex text (nvtrust's sample form; ASCII whitespace ignored). A binary
// report starts with the SPDM version byte (0x1X), never an ASCII hex digit,
// so the first non-whitespace byte decides. InvalidArgument for empty,
// oversized or malformed hex.
absl::StatusOr<Bytes> DecodeNvidiaReportPayload(absl::string_view payload);

absl::StatusOr<SpdmMeasurementReport> ParseSpdmMeasurementReport(
    std::span<const uint8_t> report);

// The message whose SHA-384 the GPU signed with ECDSA P-384:
//  SPDM 1.1: L1L2 itself, i.e. report[0 .. signed_size).
//  SPDM 1.2: the combined signing prefix "dmtf-spdm-v1.2.*" x4, six zero
//            bytes and "responder-measurements signing" (DSP0274 1.2
//            section 15), followed by SHA-384(L1L2).
Bytes SpdmSignedMessage(const SpdmMeasurementReport& parsed,
                        std::span<const uint8_t> report);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_NVIDIA_SPDM_REPORT_H_
