// The AMD SEV-SNP ATTESTATION_REPORT (SEV Secure Nested Paging Firmware ABI
// Specification, "ATTESTATION_REPORT Structure"): a 1184-byte little-endian
// structure signed by the PSP with ECDSA P-384/SHA-384 over bytes 0..0x29F.
//
// ParseSnpReport only decodes and sanity-checks the layout; it proves nothing
// about authenticity (SnpVerifier does that). It accepts report versions 2
// and later (v3 adds CPUID family/model/stepping, v5 the mitigation vectors)
// up to kMaxSnpReportVersion, and fails with InvalidArgument "snp report:
// <field>: <why>" for anything else. SnpReport is a plain value type.
#ifndef STRONGROOM_ATTEST_SNP_SNP_REPORT_H_
#define STRONGROOM_ATTEST_SNP_SNP_REPORT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "attest/claims.h"

namespace strongroom::attest {

inline constexpr size_t kSnpReportSize = 1184;
inline constexpr size_t kSnpSignedSize =
    0x2A0;  // bytes covered by the signature
inline constexpr uint32_t kMinSnpReportVersion = 2;
// Versions 2..5 are published; a few later ones are accepted because the
// layout has so far only grown into reserved space. Anything above is not a
// report we understand.
inline constexpr uint32_t kMaxSnpReportVersion = 15;
inline constexpr uint32_t kSnpSigAlgoEcdsaP384Sha384 = 1;

// The AMD product line a report and its VCEK belong to. It decides which ARK
// anchors the chain and how a TCB_VERSION is laid out.
enum class SnpProduct { kMilan, kGenoa, kTurin };
absl::string_view SnpProductName(SnpProduct p);  // "Milan", "Genoa", "Turin"
// "Milan", "Milan-B0", "Genoa-B1", "Turin" (case-sensitive prefix up to '-').
std::optional<SnpProduct> SnpProductFromName(absl::string_view name);

// Which key signed the report (KEY_INFO bits 4:2).
enum class SnpSigningKey : uint8_t { kVcek = 0, kVlek = 1, kNone = 7 };
absl::string_view SnpSigningKeyName(SnpSigningKey k);  // "vcek","vlek","none"

// A TCB_VERSION, decoded per product. Milan/Genoa: byte 0 bl, 1 tee,
// 6 snp, 7 ucode. Turin: byte 0 fmc, 1 bl, 2 tee, 3 snp, 7 ucode.
struct SnpTcb {
  std::optional<uint8_t> fmc;  // Turin only
  uint8_t bl = 0;
  uint8_t tee = 0;
  uint8_t snp = 0;
  uint8_t ucode = 0;
};
SnpTcb DecodeSnpTcb(uint64_t raw, SnpProduct product);

// GUEST_POLICY bits.
struct SnpPolicy {
  uint8_t abi_minor = 0;           // 7:0
  uint8_t abi_major = 0;           // 15:8
  bool smt = false;                // 16
  bool migrate_ma = false;         // 18
  bool debug = false;              // 19
  bool single_socket = false;      // 20
  bool cxl_allowed = false;        // 21
  bool mem_aes_256_xts = false;    // 22
  bool rapl_dis = false;           // 23
  bool ciphertext_hiding = false;  // 24
  bool page_swap_disable = false;  // 25
};
SnpPolicy DecodeSnpPolicy(uint64_t raw);

struct SnpReport {
  uint32_t version = 0;
  uint32_t guest_svn = 0;
  uint64_t policy = 0;
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t vmpl = 0;
  uint32_t signature_algo = 0;
  uint64_t current_tcb = 0;
  uint64_t platform_info = 0;
  uint32_t key_info = 0;  // AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY
  std::array<uint8_t, 64> report_data{};
  std::array<uint8_t, 48> measurement{};
  std::array<uint8_t, 32> host_data{};
  std::array<uint8_t, 48> id_key_digest{};
  std::array<uint8_t, 48> author_key_digest{};
  std::array<uint8_t, 32> report_id{};
  std::array<uint8_t, 32> report_id_ma{};
  uint64_t reported_tcb = 0;
  // Version 3 and later; nullopt before.
  std::optional<uint8_t> cpuid_fam_id, cpuid_mod_id, cpuid_step;
  std::array<uint8_t, 64> chip_id{};
  uint64_t committed_tcb = 0;
  uint8_t current_build = 0, current_minor = 0, current_major = 0;
  uint8_t committed_build = 0, committed_minor = 0, committed_major = 0;
  uint64_t launch_tcb = 0;
  // Version 5 and later.
  std::optional<uint64_t> launch_mit_vector, current_mit_vector;
  // Signature components as carried: little-endian, zero-extended to 72 B.
  std::array<uint8_t, 72> signature_r{};
  std::array<uint8_t, 72> signature_s{};
  // The whole report; bytes 0..kSnpSignedSize-1 are what was signed.
  std::array<uint8_t, kSnpReportSize> raw{};

  bool author_key_en() const { return (key_info & 1u) != 0; }
  bool mask_chip_key() const { return (key_info & 2u) != 0; }
  SnpSigningKey signing_key() const {
    return static_cast<SnpSigningKey>((key_info >> 2) & 7u);
  }
  // CHIP_ID reads as zero when the host set MASK_CHIP_ID.
  bool chip_id_masked() const;
  std::span<const uint8_t> signed_bytes() const {
    return std::span<const uint8_t>(raw).first(kSnpSignedSize);
  }
};

// Decodes a report; see the file comment for what is rejected.
absl::StatusOr<SnpReport> ParseSnpReport(std::span<const uint8_t> data);

// The product the report's CPUID family/model names (version 3+), if any:
// family 19h models 00h-0Fh Milan, 10h-1Fh and A0h-AFh Genoa; family 1Ah
// Turin. nullopt when the fields are absent, zero or unknown.
std::optional<SnpProduct> SnpProductFromCpuid(const SnpReport& report);
// For a report that carries a CPUID family/model (v3+) naming no product
// SnpProductFromCpuid knows: the appraisal's warning that the product check
// was skipped; nullopt otherwise.
std::optional<std::string> SnpUnknownCpuidWarning(const SnpReport& report);

// The "snp.*" claims of the report itself (everything except the ones that
// need the certificate: snp.product). TCB claims are decoded per `product`.
Claims SnpReportClaims(const SnpReport& report, SnpProduct product);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_SNP_SNP_REPORT_H_
