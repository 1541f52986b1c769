#include "attest/verifiers.h"

#include "attest/dev/dev_verifier.h"
#include "attest/nvidia/nvidia_verifier.h"
#include "attest/snp/snp_verifier.h"
#include "attest/tdx/tdx_verifier.h"
#include "attest/tpm/tpm_verifier.h"
#include "base/status_macros.h"

namespace strongroom::attest {

absl::StatusOr<std::unique_ptr<VerifierSet>> CreateVerifierSet(
    const AttestationOptions& o) {
  auto set = std::make_unique<VerifierSet>();
  if (o.enabled.count(EvidenceType::kSevSnp)) {
    ASSIGN_OR_RETURN(auto v, SnpVerifier::Create(SnpVerifierOptions{}));
    set->Add(std::move(v));
  }
  if (o.enabled.count(EvidenceType::kTdx)) {
    TdxVerifierOptions t;
    t.require_crls = o.tdx_require_crls;
    t.require_qe_identity = o.tdx_require_qe_identity;
    ASSIGN_OR_RETURN(auto v, TdxVerifier::Create(t));
    set->Add(std::move(v));
  }
  if (o.enabled.count(EvidenceType::kTpm)) {
    TpmVerifierOptions t;
    t.trusted_ak_public_keys_pem = o.tpm_trusted_ak_keys_pem;
    t.ak_ca_roots_pem = o.tpm_ak_ca_roots_pem;
    t.ak_ca_intermediates_pem = o.tpm_ak_ca_intermediates_pem;
    ASSIGN_OR_RETURN(auto v, TpmVerifier::Create(t));
    set->Add(std::move(v));
  }
  if (o.enabled.count(EvidenceType::kNvidia)) {
    NvidiaVerifierOptions n;
    n.extra_certificates_pem = o.nvidia_extra_certificates_pem;
    ASSIGN_OR_RETURN(auto v, NvidiaVerifier::Create(n));
    set->Add(std::move(v));
  }
  // The dev verifier is always present so that dev evidence gets its clear
  // "disabled in the server config" refusal rather than "no verifier".
  DevVerifierOptions d;
  d.enabled = o.dev_enabled;
  d.trusted_public_keys_pem = o.dev_trusted_keys_pem;
  ASSIGN_OR_RETURN(auto dev, DevVerifier::Create(d));
  set->Add(std::move(dev));
  return set;
}

}  // namespace strongroom::attest
