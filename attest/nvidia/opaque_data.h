// NVIDIA's opaque data in the SPDM MEASUREMENTS response: a sequence of
// type (2 B LE), length (2 B LE), value fields describing the GPU (driver and
// VBIOS versions, SKUs, NVDEC/PCIe protection status, FWID, ...). Type codes
// follow nvtrust's OPAQUE_FIELD_ID_* table; see docs/attestation-nvidia.md.
//
// Pure functions; thread-safe. The data is covered by the report signature,
// so a verifier decodes it only after the signature checks out.
#ifndef STRONGROOM_ATTEST_NVIDIA_OPAQUE_DATA_H_
#define STRONGROOM_ATTEST_NVIDIA_OPAQUE_DATA_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/claims.h"
#include "base/bytes.h"

namespace strongroom::attest {

inline constexpr uint16_t kNvidiaOpaqueDriverVersion = 3;
inline constexpr uint16_t kNvidiaOpaqueVbiosVersion = 6;
inline constexpr uint16_t kNvidiaOpaqueFwid = 20;

struct NvidiaOpaqueField {
  uint16_t type = 0;
  Bytes value;
};

// Splits the opaque data into fields, in order. InvalidArgument
// "nvidia report: opaque_data: ..." when a field overruns the data.
absl::StatusOr<std::vector<NvidiaOpaqueField>> ParseNvidiaOpaqueData(
    std::span<const uint8_t> opaque);

// The claim suffix for a field type ("driver_version", "vbios_version",
// "chip_sku", ...), or "type_<n>" for codes nvtrust does not name.
std::string NvidiaOpaqueFieldName(uint16_t type);

// VBIOS version bytes as nvtrust prints them ("96.00.9f.00.01" for
// 00 9f 00 96 01 00 00 00), lowercase; hex for sizes other than 8.
std::string FormatNvidiaVbiosVersion(std::span<const uint8_t> value);

// Adds "<prefix><name>" for every field: text fields (driver version, chip
// SKU, project, project SKU and their modifiers) as strings without trailing
// NULs, the VBIOS version formatted as above, everything else as hex. A type
// that appears twice keeps its first value and adds a warning.
void AddNvidiaOpaqueClaims(std::span<const NvidiaOpaqueField> fields,
                           absl::string_view prefix, Claims& claims,
                           std::vector<std::string>& warnings);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_NVIDIA_OPAQUE_DATA_H_
