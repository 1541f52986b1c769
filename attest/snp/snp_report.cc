#include "attest/snp/snp_report.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace strongroom::attest {
namespace {

// Byte offsets of ATTESTATION_REPORT fields (ABI spec, Table "ATTESTATION_
// REPORT Structure"). Integers are little-endian.
constexpr size_t kOffVersion = 0x000;
constexpr size_t kOffGuestSvn = 0x004;
constexpr size_t kOffPolicy = 0x008;
constexpr size_t kOffFamilyId = 0x010;
constexpr size_t kOffImageId = 0x020;
constexpr size_t kOffVmpl = 0x030;
constexpr size_t kOffSigAlgo = 0x034;
constexpr size_t kOffCurrentTcb = 0x038;
constexpr size_t kOffPlatformInfo = 0x040;
constexpr size_t kOffKeyInfo = 0x048;
constexpr size_t kOffReportData = 0x050;
constexpr size_t kOffMeasurement = 0x090;
constexpr size_t kOffHostData = 0x0C0;
constexpr size_t kOffIdKeyDigest = 0x0E0;
constexpr size_t kOffAuthorKeyDigest = 0x110;
constexpr size_t kOffReportId = 0x140;
constexpr size_t kOffReportIdMa = 0x160;
constexpr size_t kOffReportedTcb = 0x180;
constexpr size_t kOffCpuidFamId = 0x188;
constexpr size_t kOffCpuidModId = 0x189;
constexpr size_t kOffCpuidStep = 0x18A;
constexpr size_t kOffChipId = 0x1A0;
constexpr size_t kOffCommittedTcb = 0x1E0;
constexpr size_t kOffCurrentBuild = 0x1E8;
constexpr size_t kOffCurrentMinor = 0x1E9;
constexpr size_t kOffCurrentMajor = 0x1EA;
constexpr size_t kOffCommittedBuild = 0x1EC;
constexpr size_t kOffCommittedMinor = 0x1ED;
constexpr size_t kOffCommittedMajor = 0x1EE;
constexpr size_t kOffLaunchTcb = 0x1F0;
constexpr size_t kOffLaunchMitVector = 0x1F8;
constexpr size_t kOffCurrentMitVector = 0x200;
constexpr size_t kOffSignatureR = 0x2A0;
constexpr size_t kOffSignatureS = 0x2E8;

uint32_t Le32(std::span<const uint8_t> d, size_t off) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(d[off + i]) << (8 * i);
  return v;
}
uint64_t Le64(std::span<const uint8_t> d, size_t off) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(d[off + i]) << (8 * i);
  return v;
}
template <size_t N>
void Copy(std::span<const uint8_t> d, size_t off, std::array<uint8_t, N>& out) {
  std::memcpy(out.data(), d.data() + off, N);
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("snp report: ", field, ": ", why));
}

}  // namespace

absl::string_view SnpProductName(SnpProduct p) {
  switch (p) {
    case SnpProduct::kMilan:
      return "Milan";
    case SnpProduct::kGenoa:
      return "Genoa";
    case SnpProduct::kTurin:
      return "Turin";
  }
  return "unknown";
}

std::optional<SnpProduct> SnpProductFromName(absl::string_view name) {
  absl::string_view base = name.substr(0, name.find('-'));
  if (base == "Milan") return SnpProduct::kMilan;
  if (base == "Genoa") return SnpProduct::kGenoa;
  if (base == "Turin") return SnpProduct::kTurin;
  return std::nullopt;
}

absl::string_view SnpSigningKeyName(SnpSigningKey k) {
  switch (k) {
    case SnpSigningKey::kVcek:
      return "vcek";
    case SnpSigningKey::kVlek:
      return "vlek";
    case SnpSigningKey::kNone:
      return "none";
  }
  return "reserved";
}

SnpTcb DecodeSnpTcb(uint64_t raw, SnpProduct product) {
  auto byte = [raw](int i) { return static_cast<uint8_t>(raw >> (8 * i)); };
  SnpTcb t;
  if (product == SnpProduct::kTurin) {
    t.fmc = byte(0);
    t.bl = byte(1);
    t.tee = byte(2);
    t.snp = byte(3);
  } else {
    t.bl = byte(0);
    t.tee = byte(1);
    t.snp = byte(6);
  }
  t.ucode = byte(7);
  return t;
}

SnpPolicy DecodeSnpPolicy(uint64_t raw) {
  auto bit = [raw](int i) { return ((raw >> i) & 1u) != 0; };
  SnpPolicy p;
  p.abi_minor = static_cast<uint8_t>(raw);
  p.abi_major = static_cast<uint8_t>(raw >> 8);
  p.smt = bit(16);
  p.migrate_ma = bit(18);
  p.debug = bit(19);
  p.single_socket = bit(20);
  p.cxl_allowed = bit(21);
  p.mem_aes_256_xts = bit(22);
  p.rapl_dis = bit(23);
  p.ciphertext_hiding = bit(24);
  p.page_swap_disable = bit(25);
  return p;
}

bool SnpReport::chip_id_masked() const {
  return std::all_of(chip_id.begin(), chip_id.end(),
                     [](uint8_t b) { return b == 0; });
}

absl::StatusOr<SnpReport> ParseSnpReport(std::span<const uint8_t> data) {
  if (data.size() < kSnpReportSize) {
    return Invalid("size", absl::StrCat("truncated: ", data.size(),
                                        " bytes, need ", kSnpReportSize));
  }
  if (data.size() > kSnpReportSize) {
    return Invalid("size", absl::StrCat(data.size() - kSnpReportSize,
                                        " trailing bytes after the ",
                                        kSnpReportSize, "-byte report"));
  }
  SnpReport r;
  std::memcpy(r.raw.data(), data.data(), kSnpReportSize);
  r.version = Le32(data, kOffVersion);
  if (r.version < kMinSnpReportVersion) {
    return Invalid("version", absl::StrCat(r.version,
                                           " is older than the first SNP "
                                           "report format (2)"));
  }
  if (r.version > kMaxSnpReportVersion) {
    return Invalid("version", absl::StrCat(r.version,
                                           " is not a known report version "
                                           "(supported 2..",
                                           kMaxSnpReportVersion, ")"));
  }
  r.signature_algo = Le32(data, kOffSigAlgo);
  if (r.signature_algo != kSnpSigAlgoEcdsaP384Sha384) {
    return Invalid(
        "signature_algo",
        absl::StrCat(r.signature_algo, " is not ECDSA P-384 with SHA-384 (1)"));
  }
  r.key_info = Le32(data, kOffKeyInfo);
  SnpSigningKey key = r.signing_key();
  if (key != SnpSigningKey::kVcek && key != SnpSigningKey::kVlek &&
      key != SnpSigningKey::kNone) {
    return Invalid("signing_key",
                   absl::StrCat(static_cast<int>(key),
                                " is reserved (0 VCEK, 1 VLEK, 7 none)"));
  }
  r.guest_svn = Le32(data, kOffGuestSvn);
  r.policy = Le64(data, kOffPolicy);
  Copy(data, kOffFamilyId, r.family_id);
  Copy(data, kOffImageId, r.image_id);
  r.vmpl = Le32(data, kOffVmpl);
  r.current_tcb = Le64(data, kOffCurrentTcb);
  r.platform_info = Le64(data, kOffPlatformInfo);
  Copy(data, kOffReportData, r.report_data);
  Copy(data, kOffMeasurement, r.measurement);
  Copy(data, kOffHostData, r.host_data);
  Copy(data, kOffIdKeyDigest, r.id_key_digest);
  Copy(data, kOffAuthorKeyDigest, r.author_key_digest);
  Copy(data, kOffReportId, r.report_id);
  Copy(data, kOffReportIdMa, r.report_id_ma);
  r.reported_tcb = Le64(data, kOffReportedTcb);
  if (r.version >= 3) {
    r.cpuid_fam_id = data[kOffCpuidFamId];
    r.cpuid_mod_id = data[kOffCpuidModId];
    r.cpuid_step = data[kOffCpuidStep];
  }
  Copy(data, kOffChipId, r.chip_id);
  r.committed_tcb = Le64(data, kOffCommittedTcb);
  r.current_build = data[kOffCurrentBuild];
  r.current_minor = data[kOffCurrentMinor];
  r.current_major = data[kOffCurrentMajor];
  r.committed_build = data[kOffCommittedBuild];
  r.committed_minor = data[kOffCommittedMinor];
  r.committed_major = data[kOffCommittedMajor];
  r.launch_tcb = Le64(data, kOffLaunchTcb);
  if (r.version >= 5) {
    r.launch_mit_vector = Le64(data, kOffLaunchMitVector);
    r.current_mit_vector = Le64(data, kOffCurrentMitVector);
  }
  Copy(data, kOffSignatureR, r.signature_r);
  Copy(data, kOffSignatureS, r.signature_s);
  return r;
}

std::optional<SnpProduct> SnpProductFromCpuid(const SnpReport& report) {
  if (!report.cpuid_fam_id.has_value() || *report.cpuid_fam_id == 0) {
    return std::nullopt;
  }
  uint8_t model = report.cpuid_mod_id.value_or(0);
  switch (*report.cpuid_fam_id) {
    case 0x19:
      if (model <= 0x0F) return SnpProduct::kMilan;
      if ((model >= 0x10 && model <= 0x1F) ||
          (model >= 0xA0 && model <= 0xAF)) {
        return SnpProduct::kGenoa;
      }
      return std::nullopt;
    case 0x1A:
      return SnpProduct::kTurin;
    default:
      return std::nullopt;
  }
}

std::optional<std::string> SnpUnknownCpuidWarning(const SnpReport& report) {
  // Family 0: the firmware left the field empty (SnpProductFromCpuid reads
  // it as absent), not a CPU of another kind.
  if (!report.cpuid_fam_id.has_value() || *report.cpuid_fam_id == 0 ||
      SnpProductFromCpuid(report).has_value()) {
    return std::nullopt;
  }
  return absl::StrCat("CPUID family/model ", static_cast<int>(*report.cpuid_fam_id), "/",
                      static_cast<int>(report.cpuid_mod_id.value_or(0)),
                      " names no product this verifier knows; it was not compared with the "
                      "endorsement key's product");
}

namespace {

void SetTcb(Claims& c, absl::string_view prefix, uint64_t raw,
            SnpProduct product) {
  SnpTcb t = DecodeSnpTcb(raw, product);
  if (t.fmc.has_value()) c.SetInt(absl::StrCat(prefix, ".fmc"), *t.fmc);
  c.SetInt(absl::StrCat(prefix, ".bl"), t.bl);
  c.SetInt(absl::StrCat(prefix, ".tee"), t.tee);
  c.SetInt(absl::StrCat(prefix, ".snp"), t.snp);
  c.SetInt(absl::StrCat(prefix, ".ucode"), t.ucode);
}

}  // namespace

Claims SnpReportClaims(const SnpReport& r, SnpProduct product) {
  Claims c;
  c.SetInt("snp.version", r.version);
  c.SetInt("snp.guest_svn", r.guest_svn);
  c.SetInt("snp.vmpl", r.vmpl);
  c.SetInt("snp.policy", static_cast<int64_t>(r.policy));
  SnpPolicy p = DecodeSnpPolicy(r.policy);
  c.SetInt("snp.policy.abi_major", p.abi_major);
  c.SetInt("snp.policy.abi_minor", p.abi_minor);
  c.SetBool("snp.policy.smt", p.smt);
  c.SetBool("snp.policy.migrate_ma", p.migrate_ma);
  c.SetBool("snp.policy.debug", p.debug);
  c.SetBool("snp.policy.single_socket", p.single_socket);
  c.SetBool("snp.policy.cxl_allowed", p.cxl_allowed);
  c.SetBool("snp.policy.mem_aes_256_xts", p.mem_aes_256_xts);
  c.SetBool("snp.policy.rapl_dis", p.rapl_dis);
  c.SetBool("snp.policy.ciphertext_hiding", p.ciphertext_hiding);
  c.SetBool("snp.policy.page_swap_disable", p.page_swap_disable);

  auto pbit = [&](int i) { return ((r.platform_info >> i) & 1u) != 0; };
  c.SetBool("snp.platform_info.smt_enabled", pbit(0));
  c.SetBool("snp.platform_info.tsme_enabled", pbit(1));
  c.SetBool("snp.platform_info.ecc_enabled", pbit(2));
  c.SetBool("snp.platform_info.rapl_disabled", pbit(3));
  c.SetBool("snp.platform_info.ciphertext_hiding_enabled", pbit(4));
  c.SetBool("snp.platform_info.alias_check_complete", pbit(5));

  c.SetBool("snp.author_key_en", r.author_key_en());
  c.SetBool("snp.mask_chip_key", r.mask_chip_key());
  c.SetString("snp.signing_key", SnpSigningKeyName(r.signing_key()));

  c.SetBytes("snp.family_id", r.family_id);
  c.SetBytes("snp.image_id", r.image_id);
  c.SetBytes("snp.report_data", r.report_data);
  c.SetBytes("snp.measurement", r.measurement);
  c.SetBytes("snp.host_data", r.host_data);
  c.SetBytes("snp.id_key_digest", r.id_key_digest);
  c.SetBytes("snp.author_key_digest", r.author_key_digest);
  c.SetBytes("snp.report_id", r.report_id);
  c.SetBytes("snp.report_id_ma", r.report_id_ma);
  c.SetBytes("snp.chip_id", r.chip_id);

  SetTcb(c, "snp.current_tcb", r.current_tcb, product);
  SetTcb(c, "snp.reported_tcb", r.reported_tcb, product);
  SetTcb(c, "snp.committed_tcb", r.committed_tcb, product);
  SetTcb(c, "snp.launch_tcb", r.launch_tcb, product);

  if (r.cpuid_fam_id.has_value()) {
    c.SetInt("snp.cpuid_fam_id", *r.cpuid_fam_id);
    c.SetInt("snp.cpuid_mod_id", r.cpuid_mod_id.value_or(0));
    c.SetInt("snp.cpuid_step", r.cpuid_step.value_or(0));
  }
  c.SetInt("snp.current_major", r.current_major);
  c.SetInt("snp.current_minor", r.current_minor);
  c.SetInt("snp.current_build", r.current_build);
  c.SetInt("snp.committed_major", r.committed_major);
  c.SetInt("snp.committed_minor", r.committed_minor);
  c.SetInt("snp.committed_build", r.committed_build);
  if (r.launch_mit_vector.has_value()) {
    c.SetInt("snp.launch_mit_vector",
             static_cast<int64_t>(*r.launch_mit_vector));
    c.SetInt("snp.current_mit_vector",
             static_cast<int64_t>(r.current_mit_vector.value_or(0)));
  }
  return c;
}

}  // namespace strongroom::attest
