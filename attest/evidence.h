// Evidence as presented to a verifier: the raw bytes the TEE produced plus
// the certificates and collateral that let us check it offline.
#ifndef STRONGROOM_ATTEST_EVIDENCE_H_
#define STRONGROOM_ATTEST_EVIDENCE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/bytes.h"

namespace strongroom::attest {

enum class EvidenceType { kSevSnp, kTdx, kTpm, kNvidia, kDev };

absl::string_view EvidenceTypeName(EvidenceType t);  // "snp","tdx","tpm","nvidia","dev"
absl::StatusOr<EvidenceType> ParseEvidenceType(absl::string_view name);

struct Evidence {
  EvidenceType type = EvidenceType::kDev;
  // The evidence itself: SNP report (1184 B), TDX quote, TPM quote bundle
  // (JSON, see docs/attestation.md), NVIDIA SPDM report, dev evidence JSON.
  std::string payload;
  // Certificates that came with the evidence (PEM blocks or DER, one
  // element per file/blob), e.g. VCEK, ASK+ARK, AK certificate, GPU chain.
  std::vector<std::string> certificates;
  // Optional local directory of cached certificates / collateral (CRLs, TCB
  // info, QE identity); files are recognized by content.
  std::string collateral_dir;
};

// What the relying party expects; the same for every verifier.
struct VerifyContext {
  absl::Time at = absl::InfinitePast();  // verification time (must be set)
  // When set, the evidence's report data / nonce must equal this exactly
  // (SNP report_data 64 B, TDX report_data 64 B, TPM extraData, NVIDIA
  // nonce 32 B, dev report_data). Shorter expectations are zero-padded to
  // the field's size for SNP and TDX.
  std::optional<Bytes> expected_report_data;
};

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_EVIDENCE_H_
