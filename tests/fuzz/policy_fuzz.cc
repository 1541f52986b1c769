// Fuzz target for the release-policy language and reference-value sets:
// parse the input as a policy and as a set; when a policy parses, evaluate
// it (against fixed claims and a resolver holding sets of every shape) and
// check that its canonical form parses back to the same digest.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "attest/claims.h"
#include "attest/policy/policy.h"
#include "attest/policy/reference_values.h"

namespace {

using strongroom::attest::Claims;
using strongroom::attest::EvaluationContext;
using strongroom::attest::InMemoryReferenceValues;
using strongroom::attest::ParseReferenceValueSet;
using strongroom::attest::Policy;
using strongroom::attest::ReferenceValueSet;
using strongroom::attest::TrustTier;

// SNP, TDX, TPM and NVIDIA claims; with_dev adds a development claim (which
// most policies refuse before looking at their clauses).
Claims FuzzClaims(bool with_dev) {
  static const Claims* claims = [] {
    auto* c = new Claims;
    c->SetString("snp.measurement", std::string(96, 'a'));
    c->SetBool("snp.policy.debug", false);
    c->SetInt("snp.vmpl", 0);
    c->SetInt("snp.reported_tcb.snp", 8);
    c->SetString("tdx.tcb_status", "UpToDate");
    c->SetString("tpm.pcrs.sha256.16", std::string(64, '0'));
    c->SetString("nvidia.opaque.driver_version", "550.54.14");
    return c;
  }();
  Claims out = *claims;
  if (with_dev) out.SetString("dev.measurement", "00");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  static const absl::Time kNow = absl::FromUnixSeconds(1740000000);

  InMemoryReferenceValues sets;
  absl::StatusOr<ReferenceValueSet> set = ParseReferenceValueSet(input);
  if (set.ok()) {
    // A parsed set is valid by construction and serializes back.
    if (!sets.Put(*set).ok()) std::abort();
    if (!ParseReferenceValueSet(
             strongroom::attest::ReferenceValueSetToJson(*set))
             .ok()) {
      std::abort();
    }
  }

  absl::StatusOr<Policy> policy = Policy::Parse(input);
  if (!policy.ok()) return 0;
  for (const std::string& name : policy->ReferencedSets()) {
    // Every other referenced set exists; the first one is expired.
    (void)sets.Put(
        ReferenceValueSet{.name = name,
                          .values = {std::string(96, 'a'), "UpToDate"},
                          .expires_at = name == policy->ReferencedSets()[0]
                                            ? kNow - absl::Seconds(1)
                                            : absl::InfiniteFuture()});
  }
  for (TrustTier tier : {TrustTier::kAffirming, TrustTier::kWarning,
                         TrustTier::kNone, TrustTier::kContraindicated}) {
    EvaluationContext ctx{.evidence_types = {"snp"}, .status = tier};
    (void)policy->Evaluate(FuzzClaims(false), sets, kNow, ctx);
    (void)policy->Evaluate(FuzzClaims(true), sets, kNow, ctx);
    (void)policy->Evaluate(Claims(), sets, kNow, ctx);
  }
  absl::StatusOr<Policy> again = Policy::Parse(policy->ToJson());
  if (!again.ok() || again->Digest() != policy->Digest()) std::abort();
  return 0;
}
