// AttestationAdmin: a dry run of a policy on evidence (nothing stored, no
// token), and the evidence helpers the key broker shares with it.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/broker/attestation_admin.h"
#include "kms/broker/attestation_admin_internal.h"
#include "nlohmann/json.hpp"

namespace strongroom::kms {

using internal::RequireRole;

absl::Status CheckEvidenceSizes(const google::protobuf::RepeatedPtrField<v1::EvidenceItem>& items) {
  if (items.empty() || static_cast<size_t>(items.size()) > kMaxEvidenceItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("evidence: ", items.size(), " items, expected 1..", kMaxEvidenceItems));
  }
  // A certificate chain is a handful of certificates (VCEK, ASK, ARK; the
  // PCK chain; NVIDIA's five-deep chain): more is not evidence, and empty
  // entries would pass a byte limit for free.
  constexpr int kMaxCertificates = 16;
  for (int i = 0; i < items.size(); ++i) {
    if (items[i].certificates_size() > kMaxCertificates) {
      return absl::InvalidArgumentError(
          absl::StrCat("evidence[", i, "].certificates: ", items[i].certificates_size(),
                       " entries, at most ", kMaxCertificates));
    }
    size_t bytes = items[i].payload().size();
    for (int j = 0; j < items[i].certificates_size(); ++j) {
      if (items[i].certificates(j).empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("evidence[", i, "].certificates[", j, "]: empty"));
      }
      bytes += items[i].certificates(j).size();
    }
    if (bytes > kMaxEvidenceBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("evidence[", i, "]: ", bytes, " bytes, at most ", kMaxEvidenceBytes));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<attest::Evidence> EvidenceFromProto(const v1::EvidenceItem& item,
                                                   absl::string_view field) {
  attest::Evidence e;
  absl::StatusOr<attest::EvidenceType> type = attest::ParseEvidenceType(item.type());
  if (!type.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".type: ", type.status().message()));
  }
  e.type = *type;
  if (item.payload().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".payload: empty"));
  }
  e.payload = item.payload();
  e.certificates.assign(item.certificates().begin(), item.certificates().end());
  return e;
}

absl::StatusOr<v1::DryRunPolicyResponse> AttestationAdmin::DryRunPolicy(
    const Caller& c, const v1::DryRunPolicyRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin, Role::kOwner}, "dry-run policies"));
  absl::StatusOr<attest::Policy> policy =
      absl::InvalidArgumentError("policy: set policy_name or policy_json");
  if (r.has_policy_name()) {
    policy = LoadPolicy(r.policy_name());
  } else if (r.has_policy_json()) {
    policy = attest::Policy::Parse(r.policy_json());
    if (!policy.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("policy_json: ", policy.status().message()));
    }
  }
  RETURN_IF_ERROR(policy.status());
  RETURN_IF_ERROR(CheckEvidenceSizes(r.evidence()));
  if (r.verification_time_unix() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "verification_time_unix: ", r.verification_time_unix(), " is before 1970 (0 means now)"));
  }
  std::vector<attest::Evidence> evidence;
  std::vector<attest::VerifyContext> contexts;
  absl::Time at = r.verification_time_unix() == 0
                      ? clock_.Now()
                      : absl::FromUnixSeconds(r.verification_time_unix());
  for (int i = 0; i < r.evidence_size(); ++i) {
    ASSIGN_OR_RETURN(attest::Evidence e,
                     EvidenceFromProto(r.evidence(i), absl::StrCat("evidence[", i, "]")));
    evidence.push_back(std::move(e));
    attest::VerifyContext ctx;
    ctx.at = at;
    if (!r.evidence(i).expected_report_data().empty()) {
      const std::string& d = r.evidence(i).expected_report_data();
      ctx.expected_report_data = Bytes(d.begin(), d.end());
    }
    contexts.push_back(std::move(ctx));
  }
  v1::DryRunPolicyResponse out;
  out.set_policy_digest(policy->Digest());
  absl::StatusOr<attest::CompositeAppraisal> appraisal = verifiers_.Appraise(evidence, contexts);
  if (!appraisal.ok()) {
    if (absl::IsInvalidArgument(appraisal.status()) &&
        absl::StrContains(appraisal.status().message(), "at most")) {
      return appraisal.status();
    }
    out.set_verified(false);
    out.set_allowed(false);
    out.set_reason(std::string(appraisal.status().message()));
    out.set_ear_status("contraindicated");
    return out;
  }
  out.set_verified(true);
  out.set_claims_json(appraisal->claims.ToJson().dump());
  out.set_ear_status(std::string(attest::TrustTierName(appraisal->status())));
  out.set_ear_json(appraisal->ToEar(verifier_id_, at).dump());
  for (const std::string& w : appraisal->warnings) out.add_warnings(w);
  attest::PolicyDecision decision =
      policy->Evaluate(appraisal->claims, *this, at,
                       attest::EvaluationContext::FromAppraisals(appraisal->submodules));
  out.set_allowed(decision.allow);
  out.set_reason(decision.reason);
  out.set_failed_path(decision.failed_path);
  for (const auto& [name, version] : decision.consulted_sets) {
    out.add_consulted_reference_values(absl::StrCat(name, "@", version));
  }
  return out;
}

}  // namespace strongroom::kms
