#include "attest/evidence.h"

#include "absl/strings/str_cat.h"

namespace strongroom::attest {

absl::string_view EvidenceTypeName(EvidenceType t) {
  switch (t) {
    case EvidenceType::kSevSnp:
      return "snp";
    case EvidenceType::kTdx:
      return "tdx";
    case EvidenceType::kTpm:
      return "tpm";
    case EvidenceType::kNvidia:
      return "nvidia";
    case EvidenceType::kDev:
      return "dev";
  }
  return "unknown";
}

absl::StatusOr<EvidenceType> ParseEvidenceType(absl::string_view name) {
  for (EvidenceType t : {EvidenceType::kSevSnp, EvidenceType::kTdx,
                         EvidenceType::kTpm, EvidenceType::kNvidia,
                         EvidenceType::kDev}) {
    if (name == EvidenceTypeName(t)) return t;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "evidence type '", name, "' is not one of snp, tdx, tpm, nvidia, dev"));
}

}  // namespace strongroom::attest
