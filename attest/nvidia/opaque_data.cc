#include "attest/nvidia/opaque_data.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strongroom::attest {
namespace {

struct FieldInfo {
  uint16_t type;
  const char* name;
  bool text;
};

// nvtrust's OPAQUE_FIELD_ID_* codes (local_gpu_verifier, opaque_data.py and
// the C++ attestation SDK), lowercased without the prefix.
constexpr FieldInfo kFields[] = {
    {1, "cert_issuer_name", false},
    {2, "cert_authority_key_identifier", false},
    {3, "driver_version", true},
    {4, "gpu_info", false},
    {5, "sku", false},
    {6, "vbios_version", false},
    {7, "manufacturer_id", false},
    {8, "tamper_detection", false},
    {9, "smc", false},
    {10, "vpr", false},
    {11, "nvdec0_status", false},
    {12, "msrscnt", false},
    {13, "cprinfo", false},
    {14, "board_id", false},
    {15, "chip_sku", true},
    {16, "chip_sku_mod", true},
    {17, "project", true},
    {18, "project_sku", true},
    {19, "project_sku_mod", true},
    {20, "fwid", false},
    {21, "protected_pcie_status", false},
    {22, "switch_pdi", false},
    {23, "floorswept_ports", false},
    {24, "position_id", false},
    {25, "lock_switch_status", false},
    {32, "gpu_link_conn", false},
    {33, "sys_enable_status", false},
    {34, "opaque_data_version", false},
    {35, "chip_info", false},
};

const FieldInfo* Find(uint16_t type) {
  for (const FieldInfo& f : kFields) {
    if (f.type == type) return &f;
  }
  return nullptr;
}

// Sets `out` to the value without trailing NULs when the rest is printable
// ASCII; false when it is not text.
bool AsText(std::span<const uint8_t> value, std::string& out) {
  size_t end = value.size();
  while (end > 0 && value[end - 1] == 0) --end;
  out.clear();
  for (size_t i = 0; i < end; ++i) {
    if (value[i] < 0x20 || value[i] > 0x7e) return false;
    out.push_back(static_cast<char>(value[i]));
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<NvidiaOpaqueField>> ParseNvidiaOpaqueData(
    std::span<const uint8_t> opaque) {
  std::vector<NvidiaOpaqueField> out;
  size_t pos = 0;
  while (pos < opaque.size()) {
    if (opaque.size() - pos < 4) {
      return absl::InvalidArgumentError(absl::StrCat(
          "nvidia report: opaque_data: truncated field header at offset ",
          pos));
    }
    uint16_t type = static_cast<uint16_t>(opaque[pos] | opaque[pos + 1] << 8);
    size_t size = size_t{opaque[pos + 2]} | size_t{opaque[pos + 3]} << 8;
    pos += 4;
    if (opaque.size() - pos < size) {
      return absl::InvalidArgumentError(
          absl::StrCat("nvidia report: opaque_data: field type ", type,
                       " at offset ", pos - 4, " has length ", size,
                       " but only ", opaque.size() - pos, " bytes follow"));
    }
    out.push_back(
        {type, Bytes(opaque.begin() + pos, opaque.begin() + pos + size)});
    pos += size;
  }
  return out;
}

std::string NvidiaOpaqueFieldName(uint16_t type) {
  const FieldInfo* f = Find(type);
  return f != nullptr ? std::string(f->name) : absl::StrCat("type_", type);
}

std::string FormatNvidiaVbiosVersion(std::span<const uint8_t> value) {
  if (value.size() != 8) return HexEncode(value);
  // nvtrust reads the field as a little-endian integer and prints the low
  // four bytes from most significant down, then byte 4.
  const uint8_t order[] = {value[3], value[2], value[1], value[0], value[4]};
  std::string out;
  for (size_t i = 0; i < sizeof(order); ++i) {
    if (i > 0) out.push_back('.');
    out += HexEncode(std::span<const uint8_t>(&order[i], 1));
  }
  return out;
}

void AddNvidiaOpaqueClaims(std::span<const NvidiaOpaqueField> fields,
                           absl::string_view prefix, Claims& claims,
                           std::vector<std::string>& warnings) {
  std::set<uint16_t> seen;
  for (const NvidiaOpaqueField& field : fields) {
    std::string name = NvidiaOpaqueFieldName(field.type);
    if (!seen.insert(field.type).second) {
      warnings.push_back(absl::StrCat("opaque field ", name,
                                      " appears more than once; the first "
                                      "value is used"));
      continue;
    }
    std::string claim = absl::StrCat(prefix, name);
    const FieldInfo* info = Find(field.type);
    std::string text;
    if (field.type == kNvidiaOpaqueVbiosVersion) {
      claims.SetString(claim, FormatNvidiaVbiosVersion(field.value));
    } else if (info != nullptr && info->text && AsText(field.value, text)) {
      claims.SetString(claim, text);
    } else {
      claims.SetBytes(claim, field.value);
    }
  }
}

}  // namespace strongroom::attest
