// How a workload's evidence is bound to the broker's challenge and to the
// ephemeral public key the released key will be sealed to:
//
//   binding = SHA-256("strongroom-attest-v1" || kem_id (2 bytes, big-endian)
//                     || nonce (32 bytes) || public_key (RFC 9180 serialized))
//
// The 32 bytes go into SEV-SNP and TDX report_data (zero-padded to 64), the
// TPM quote's extraData, the NVIDIA SPDM request nonce and the development
// attester's report_data. Evidence made for another nonce or another key then
// fails its report-data check. Shared by the broker and the client library.
#ifndef STRONGROOM_ATTEST_BINDING_H_
#define STRONGROOM_ATTEST_BINDING_H_

#include <cstdint>
#include <span>

#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr char kBindingLabel[] = "strongroom-attest-v1";

Bytes AttestationBinding(uint16_t kem_id, std::span<const uint8_t> nonce,
                         std::span<const uint8_t> public_key);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_BINDING_H_
