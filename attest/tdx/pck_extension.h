// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1):
// the platform's FMSPC, PCE ID and the TCB the certificate was issued for.
//
// The extension value is a SEQUENCE of SEQUENCE { OID, value } with sub-OIDs
// under the extension OID (Intel "SGX PCK Certificate and CRL Profile"):
//   .1 PPID OCTET STRING(16)        .2 TCB SEQUENCE of { .2.1-.2.16 INTEGER
//   .3 PCE-ID OCTET STRING(2)             (CPUSVN components), .2.17 INTEGER
//   .4 FMSPC OCTET STRING(6)              (PCESVN), .2.18 OCTET STRING(16)
//   .5 SGX type ENUMERATED                (CPUSVN) }
// Unknown sub-OIDs (platform instance id, configuration) are skipped.
//
// The DER is read by a small bounded reader here (not OpenSSL's generic
// ASN.1 types) so the parser can be fuzzed on its own. Pure functions;
// errors are InvalidArgument("pck sgx extension: <field>: <why>").
#ifndef STRONGROOM_ATTEST_TDX_PCK_EXTENSION_H_
#define STRONGROOM_ATTEST_TDX_PCK_EXTENSION_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "attest/x509.h"

namespace strongroom::attest {

inline constexpr char kSgxExtensionOid[] = "1.2.840.113741.1.13.1";

struct PckSgxExtension {
  std::array<uint8_t, 16> ppid{};
  std::array<uint8_t, 16> cpusvn_components{};  // .2.1 .. .2.16
  uint16_t pcesvn = 0;                          // .2.17
  std::array<uint8_t, 16> cpusvn{};             // .2.18
  std::array<uint8_t, 2> pce_id{};
  std::array<uint8_t, 6> fmspc{};
  int sgx_type = 0;
};

// `der` is the extension value (the bytes inside the extension's OCTET
// STRING).
absl::StatusOr<PckSgxExtension> ParsePckSgxExtension(
    std::span<const uint8_t> der);

// The SGX extension of `pck`, or InvalidArgument when it has none.
absl::StatusOr<PckSgxExtension> PckSgxExtensionOf(const Certificate& pck);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_TDX_PCK_EXTENSION_H_
