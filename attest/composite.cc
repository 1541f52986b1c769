#include "attest/composite.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {

TrustTier CompositeAppraisal::status() const { return OverallTier(submodules); }

nlohmann::json CompositeAppraisal::ToEar(absl::string_view verifier_id,
                                         absl::Time iat) const {
  nlohmann::json ear;
  ear["eat_profile"] = "tag:github.com,2023:veraison/ear";
  ear["iat"] = absl::ToUnixSeconds(iat);
  ear["ear.verifier-id"] = {{"build", std::string(verifier_id)},
                            {"developer", "strongroom"}};
  nlohmann::json submods = nlohmann::json::object();
  for (const Appraisal& a : submodules) submods[a.tee] = a.ToEarSubmodule();
  ear["submods"] = std::move(submods);
  return ear;
}

void VerifierSet::Add(std::unique_ptr<Verifier> verifier) {
  EvidenceType t = verifier->type();
  verifiers_[t] = std::move(verifier);
}

const Verifier* VerifierSet::Find(EvidenceType type) const {
  auto it = verifiers_.find(type);
  return it == verifiers_.end() ? nullptr : it->second.get();
}

absl::StatusOr<Appraisal> VerifierSet::Verify(const Evidence& evidence,
                                              const VerifyContext& ctx) const {
  const Verifier* v = Find(evidence.type);
  if (v == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no verifier for evidence type '",
                     EvidenceTypeName(evidence.type), "' is enabled"));
  }
  if (ctx.at == absl::InfinitePast()) {
    return absl::InvalidArgumentError("verification time is not set");
  }
  return v->Verify(evidence, ctx);
}

absl::StatusOr<CompositeAppraisal> VerifierSet::Appraise(
    std::span<const Evidence> evidence,
    std::span<const VerifyContext> contexts) const {
  if (evidence.empty()) {
    return absl::InvalidArgumentError("evidence: at least one item required");
  }
  if (evidence.size() > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("evidence: ", evidence.size(), " items, at most 8"));
  }
  if (contexts.size() != evidence.size()) {
    return absl::InvalidArgumentError(
        "evidence: one verification context per item required");
  }
  std::set<EvidenceType> seen;
  CompositeAppraisal out;
  for (size_t i = 0; i < evidence.size(); ++i) {
    absl::string_view name = EvidenceTypeName(evidence[i].type);
    if (!seen.insert(evidence[i].type).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "evidence[", i, "]: a second '", name, "' item (one per type)"));
    }
    absl::StatusOr<Appraisal> a = Verify(evidence[i], contexts[i]);
    if (!a.ok()) {
      return absl::Status(a.status().code(),
                          absl::StrCat("evidence[", i, "] (", name,
                                       "): ", a.status().message()));
    }
    out.claims.Merge(a->claims);
    for (const std::string& w : a->warnings) {
      out.warnings.push_back(absl::StrCat(name, ": ", w));
    }
    out.submodules.push_back(*std::move(a));
  }
  return out;
}

}  // namespace strongroom::attest
