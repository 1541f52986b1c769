// The configured set of verifiers, one per enabled evidence type, built from
// one options struct shared by strongroomd (attestation: section of the
// config), `strongroom attest verify` and strongroom-bench.
//
// Hardware verifiers (snp, tdx, tpm, nvidia) are on unless disabled; the
// development attester is off unless dev_enabled, and even then a policy must
// name it (attest/policy). Trust anchors for AMD, Intel and NVIDIA are pinned
// in the verifiers themselves; TPM AK trust comes from here.
#ifndef STRONGROOM_ATTEST_VERIFIERS_H_
#define STRONGROOM_ATTEST_VERIFIERS_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "attest/composite.h"

namespace strongroom::attest {

struct AttestationOptions {
  std::set<EvidenceType> enabled = {EvidenceType::kSevSnp, EvidenceType::kTdx,
                                    EvidenceType::kTpm, EvidenceType::kNvidia};
  // Directory of cached certificates and collateral (AMD VCEK/ASK/ARK, Intel
  // TCB info, QE identity, CRLs); "" = none. Files are recognized by content.
  std::string collateral_dir;
  // TPM: AK public keys trusted as they are (PEM), CA roots and
  // intermediates for AK certificates (PEM).
  std::vector<std::string> tpm_trusted_ak_keys_pem;
  std::vector<std::string> tpm_ak_ca_roots_pem;
  std::vector<std::string> tpm_ak_ca_intermediates_pem;
  // TDX: when false, missing CRLs / QE identity are warnings, not failures.
  bool tdx_require_crls = true;
  bool tdx_require_qe_identity = true;
  // NVIDIA: extra PEM certificates for chain building (e.g. the device root).
  std::string nvidia_extra_certificates_pem;
  // Development attester.
  bool dev_enabled = false;
  std::vector<std::string> dev_trusted_keys_pem;
};

absl::StatusOr<std::unique_ptr<VerifierSet>> CreateVerifierSet(
    const AttestationOptions& options);

}  // namespace strongroom::attest

#endif  // STRONGROOM_ATTEST_VERIFIERS_H_
