#include "attest/tdx/pck_extension.h"

#include <cstring>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

constexpr uint8_t kTagInteger = 0x02;
constexpr uint8_t kTagOctetString = 0x04;
constexpr uint8_t kTagOid = 0x06;
constexpr uint8_t kTagEnumerated = 0x0a;
constexpr uint8_t kTagSequence = 0x30;

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("pck sgx extension: ", field, ": ", why));
}

struct Tlv {
  uint8_t tag = 0;
  std::span<const uint8_t> value;
};

// Reads consecutive DER TLVs (single-byte tags, definite lengths up to 4
// length bytes) from a span; never reads past it.
class DerReader {
 public:
  explicit DerReader(std::span<const uint8_t> data) : data_(data) {}
  bool done() const { return pos_ == data_.size(); }

  absl::StatusOr<Tlv> Next(absl::string_view field) {
    if (data_.size() - pos_ < 2) return Invalid(field, "truncated TLV");
    Tlv t;
    t.tag = data_[pos_++];
    if ((t.tag & 0x1f) == 0x1f) return Invalid(field, "multi-byte tag");
    size_t len = data_[pos_++];
    if (len & 0x80) {
      size_t n = len & 0x7f;
      if (n == 0 || n > 4) return Invalid(field, "unsupported length form");
      if (data_.size() - pos_ < n) return Invalid(field, "truncated length");
      len = 0;
      for (size_t i = 0; i < n; ++i) len = (len << 8) | data_[pos_++];
    }
    if (len > data_.size() - pos_) {
      return Invalid(field, absl::StrCat("length ", len, " exceeds the ",
                                         data_.size() - pos_,
                                         " bytes left"));
    }
    t.value = data_.subspan(pos_, len);
    pos_ += len;
    return t;
  }

  absl::StatusOr<Tlv> Expect(uint8_t tag, absl::string_view field) {
    ASSIGN_OR_RETURN(Tlv t, Next(field));
    if (t.tag != tag) {
      return Invalid(field, absl::StrCat("tag 0x", absl::Hex(t.tag),
                                         ", want 0x", absl::Hex(tag)));
    }
    return t;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// Dotted text of an OID's content octets; nullopt if malformed.
std::optional<std::string> OidText(std::span<const uint8_t> v) {
  if (v.empty() || (v.back() & 0x80)) return std::nullopt;
  std::string out;
  uint64_t acc = 0;
  bool first = true;
  for (uint8_t b : v) {
    if (acc > (uint64_t{1} << 56)) return std::nullopt;
    acc = (acc << 7) | (b & 0x7f);
    if (b & 0x80) continue;
    if (first) {
      uint64_t top = acc < 40 ? 0 : acc < 80 ? 1 : 2;
      absl::StrAppend(&out, top, ".", acc - top * 40);
      first = false;
    } else {
      absl::StrAppend(&out, ".", acc);
    }
    acc = 0;
  }
  return out;
}

// A small non-negative INTEGER or ENUMERATED.
absl::StatusOr<uint32_t> SmallUnsigned(std::span<const uint8_t> v,
                                       uint32_t max, absl::string_view field) {
  if (v.empty()) return Invalid(field, "empty integer");
  if (v[0] & 0x80) return Invalid(field, "negative integer");
  uint64_t x = 0;
  for (uint8_t b : v) {
    x = (x << 8) | b;
    if (x > max) return Invalid(field, absl::StrCat("integer above ", max));
  }
  return static_cast<uint32_t>(x);
}

template <size_t N>
absl::Status FixedOctets(const Tlv& t, std::array<uint8_t, N>& out,
                         absl::string_view field) {
  if (t.tag != kTagOctetString) return Invalid(field, "not an OCTET STRING");
  if (t.value.size() != N) {
    return Invalid(field, absl::StrCat(t.value.size(), " bytes, want ", N));
  }
  std::memcpy(out.data(), t.value.data(), N);
  return absl::OkStatus();
}

absl::Status ParseTcb(std::span<const uint8_t> der, const std::string& prefix,
                      PckSgxExtension& ext) {
  DerReader r(der);
  uint32_t seen = 0;  // bit i: component i+1 (1..18) present
  while (!r.done()) {
    ASSIGN_OR_RETURN(Tlv item, r.Expect(kTagSequence, "tcb item"));
    DerReader ir(item.value);
    ASSIGN_OR_RETURN(Tlv oid, ir.Expect(kTagOid, "tcb item oid"));
    ASSIGN_OR_RETURN(Tlv value, ir.Next("tcb item value"));
    std::optional<std::string> name = OidText(oid.value);
    if (!name) return Invalid("tcb item oid", "malformed OID");
    if (!absl::StartsWith(*name, prefix)) continue;
    std::string leaf = name->substr(prefix.size());
    int idx = 0;
    if (!absl::SimpleAtoi(leaf, &idx) || idx < 1 || idx > 18) continue;
    if (seen & (1u << (idx - 1))) {
      return Invalid("tcb", absl::StrCat("component ", idx, " repeated"));
    }
    seen |= 1u << (idx - 1);
    if (idx <= 16) {
      if (value.tag != kTagInteger) return Invalid("tcb", "svn not INTEGER");
      ASSIGN_OR_RETURN(uint32_t svn,
                       SmallUnsigned(value.value, 255, "cpusvn component"));
      ext.cpusvn_components[idx - 1] = static_cast<uint8_t>(svn);
    } else if (idx == 17) {
      if (value.tag != kTagInteger) return Invalid("pcesvn", "not INTEGER");
      ASSIGN_OR_RETURN(uint32_t svn,
                       SmallUnsigned(value.value, 65535, "pcesvn"));
      ext.pcesvn = static_cast<uint16_t>(svn);
    } else {
      RETURN_IF_ERROR(FixedOctets(value, ext.cpusvn, "cpusvn"));
    }
  }
  if (seen != (1u << 18) - 1) {
    return Invalid("tcb", "missing CPUSVN components, PCESVN or CPUSVN");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PckSgxExtension> ParsePckSgxExtension(
    std::span<const uint8_t> der) {
  PckSgxExtension ext;
  DerReader outer(der);
  ASSIGN_OR_RETURN(Tlv top, outer.Expect(kTagSequence, "extension"));
  if (!outer.done()) return Invalid("extension", "trailing bytes");
  const std::string base = std::string(kSgxExtensionOid) + ".";
  bool have_tcb = false, have_fmspc = false, have_pceid = false;
  DerReader r(top.value);
  while (!r.done()) {
    ASSIGN_OR_RETURN(Tlv item, r.Expect(kTagSequence, "item"));
    DerReader ir(item.value);
    ASSIGN_OR_RETURN(Tlv oid, ir.Expect(kTagOid, "item oid"));
    ASSIGN_OR_RETURN(Tlv value, ir.Next("item value"));
    std::optional<std::string> name = OidText(oid.value);
    if (!name) return Invalid("item oid", "malformed OID");
    if (*name == base + "1") {
      RETURN_IF_ERROR(FixedOctets(value, ext.ppid, "ppid"));
    } else if (*name == base + "2") {
      if (value.tag != kTagSequence) return Invalid("tcb", "not a SEQUENCE");
      RETURN_IF_ERROR(ParseTcb(value.value, base + "2.", ext));
      have_tcb = true;
    } else if (*name == base + "3") {
      RETURN_IF_ERROR(FixedOctets(value, ext.pce_id, "pce_id"));
      have_pceid = true;
    } else if (*name == base + "4") {
      RETURN_IF_ERROR(FixedOctets(value, ext.fmspc, "fmspc"));
      have_fmspc = true;
    } else if (*name == base + "5") {
      if (value.tag != kTagEnumerated) return Invalid("sgx_type", "not ENUMERATED");
      ASSIGN_OR_RETURN(uint32_t t, SmallUnsigned(value.value, 255, "sgx_type"));
      ext.sgx_type = static_cast<int>(t);
    }
  }
  if (!have_tcb) return Invalid("tcb", "missing");
  if (!have_fmspc) return Invalid("fmspc", "missing");
  if (!have_pceid) return Invalid("pce_id", "missing");
  return ext;
}

absl::StatusOr<PckSgxExtension> PckSgxExtensionOf(const Certificate& pck) {
  std::optional<Bytes> der = pck.Extension(kSgxExtensionOid);
  if (!der) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pck sgx extension: certificate '", pck.common_name(),
        "' has no extension ", kSgxExtensionOid));
  }
  return ParsePckSgxExtension(*der);
}

}  // namespace strongroom::attest
