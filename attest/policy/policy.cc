#include "attest/policy/policy.h"

#include <algorithm>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "attest/evidence.h"
#include "attest/policy/clause.h"
#include "attest/policy/strict_json.h"
#include "attest/x509.h"
#include "base/bytes.h"
#include "nlohmann/json.hpp"

namespace strongroom::attest {
namespace {

using nlohmann::json;
using policy_internal::Clause;
using policy_internal::ClauseEvaluator;
using policy_internal::ClauseFacts;
using policy_internal::ClauseResult;
using policy_internal::Outcome;

constexpr int kSupportedVersion = 1;

absl::Status Invalid(absl::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
}

absl::Status CheckVersion(const json& doc) {
  auto it = doc.find("version");
  if (it == doc.end()) return Invalid("$.version", "required");
  std::optional<int64_t> v = JsonInt64(*it);
  if (!v.has_value()) {
    return Invalid("$.version", absl::StrCat("expected an integer, got ",
                                             JsonTypeName(*it)));
  }
  if (*v != kSupportedVersion) {
    return Invalid("$.version",
                   absl::StrCat("unsupported version ", *v,
                                " (supported: ", kSupportedVersion, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ParseTees(const json& v) {
  if (!v.is_array()) {
    return Invalid("$.tee", absl::StrCat("expected a list of evidence types, "
                                         "got ",
                                         JsonTypeName(v)));
  }
  if (v.empty()) return Invalid("$.tee", "empty list");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string path = JsonPathIndex("$.tee", i);
    if (!v[i].is_string()) {
      return Invalid(
          path, absl::StrCat("expected a string, got ", JsonTypeName(v[i])));
    }
    std::string tee = v[i].get<std::string>();
    if (!ParseEvidenceType(tee).ok()) {
      return Invalid(
          path, absl::StrCat("unknown evidence type ", QuoteForMessage(tee),
                             " (expected snp, tdx, tpm, nvidia, "
                             "dev)"));
    }
    if (std::find(out.begin(), out.end(), tee) != out.end()) {
      return Invalid(path, absl::StrCat("duplicate ", QuoteForMessage(tee)));
    }
    out.push_back(std::move(tee));
  }
  return out;
}

absl::StatusOr<TrustTier> ParseMinStatus(const json& v) {
  if (v.is_string() && v.get<std::string>() == "affirming") {
    return TrustTier::kAffirming;
  }
  if (v.is_string() && v.get<std::string>() == "warning") {
    return TrustTier::kWarning;
  }
  return Invalid(
      "$.minStatus",
      absl::StrCat("expected \"affirming\" or \"warning\", got ",
                   v.is_string() ? QuoteForMessage(v.get<std::string>())
                                 : std::string(JsonTypeName(v))));
}

PolicyDecision Deny(absl::string_view path, absl::string_view why) {
  PolicyDecision d;
  d.allow = false;
  d.failed_path = std::string(path);
  d.reason = absl::StrCat(path, ": ", why);
  return d;
}

// Evidence types present: listed by the caller or seen as claim prefixes.
std::set<std::string> PresentTypes(const Claims& claims,
                                   const EvaluationContext& ctx) {
  std::set<std::string> out(ctx.evidence_types.begin(),
                            ctx.evidence_types.end());
  for (const auto& [name, value] : claims.all()) {
    size_t dot = name.find('.');
    if (dot != absl::string_view::npos) out.emplace(name.substr(0, dot));
  }
  return out;
}

}  // namespace

EvaluationContext EvaluationContext::FromAppraisals(
    std::span<const Appraisal> appraisals) {
  EvaluationContext ctx;
  for (const Appraisal& a : appraisals) {
    if (std::find(ctx.evidence_types.begin(), ctx.evidence_types.end(),
                  a.tee) == ctx.evidence_types.end()) {
      ctx.evidence_types.push_back(a.tee);
    }
  }
  ctx.status = OverallTier(appraisals);
  return ctx;
}

absl::StatusOr<Policy> Policy::Parse(absl::string_view text) {
  absl::StatusOr<json> doc = ParseStrictJson(
      text, StrictJsonLimits{.max_bytes = kMaxBytes, .max_depth = kMaxDepth});
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return Invalid("$", absl::StrCat("expected a policy object, got ",
                                     JsonTypeName(*doc)));
  }
  // The version decides what the rest may contain, so it goes first.
  if (absl::Status s = CheckVersion(*doc); !s.ok()) return s;

  for (const auto& [key, v] : doc->items()) {
    if (key != "version" && key != "description" && key != "tee" &&
        key != "minStatus" && key != "require") {
      return Invalid(JsonPathKey("$", key),
                     "unknown key (expected version, description, tee, "
                     "minStatus, require)");
    }
  }
  // Then in document-reading order, so the first error is the one a reader
  // would meet first.
  Policy policy;
  if (auto it = doc->find("description"); it != doc->end()) {
    if (!it->is_string()) {
      return Invalid("$.description", absl::StrCat("expected a string, got ",
                                                   JsonTypeName(*it)));
    }
    policy.description_ = it->get<std::string>();
  }
  if (auto it = doc->find("tee"); it != doc->end()) {
    absl::StatusOr<std::vector<std::string>> tees = ParseTees(*it);
    if (!tees.ok()) return tees.status();
    policy.tees_ = *std::move(tees);
  }
  if (auto it = doc->find("minStatus"); it != doc->end()) {
    absl::StatusOr<TrustTier> tier = ParseMinStatus(*it);
    if (!tier.ok()) return tier.status();
    policy.min_status_ = *tier;
  }
  auto require = doc->find("require");
  if (require == doc->end()) return Invalid("$.require", "required");
  ClauseFacts facts;
  absl::StatusOr<Clause> clause =
      policy_internal::ParseClause(*require, "$.require", 0, &facts);
  if (!clause.ok()) return clause.status();
  policy.require_ = std::make_shared<const Clause>(*std::move(clause));

  policy.referenced_sets_ = std::move(facts.reference_sets);
  policy.accepts_dev_ = facts.names_dev_claim ||
                        std::find(policy.tees_.begin(), policy.tees_.end(),
                                  "dev") != policy.tees_.end();
  policy.canonical_ = doc->dump(-1, ' ', false, json::error_handler_t::replace);
  policy.digest_ = Sha256Hex(AsBytes(policy.canonical_));
  return policy;
}

PolicyDecision Policy::Evaluate(const Claims& claims,
                                const ReferenceValueResolver& resolver,
                                absl::Time now,
                                const EvaluationContext& context) const {
  const std::set<std::string> present = PresentTypes(claims, context);

  if (present.count("dev") > 0 && !accepts_dev_) {
    return Deny("$", "development evidence is not accepted by this policy");
  }

  if (context.status == TrustTier::kContraindicated) {
    return Deny("$",
                "EAR status is contraindicated; contraindicated "
                "evidence is never accepted");
  }
  if (min_status_.has_value()) {
    const bool ok = context.status == TrustTier::kAffirming ||
                    (*min_status_ == TrustTier::kWarning &&
                     context.status == TrustTier::kWarning);
    if (!ok) {
      return Deny(
          "$.minStatus",
          absl::StrCat(
              "EAR status is ", TrustTierName(context.status),
              ", the policy requires ", TrustTierName(*min_status_),
              *min_status_ == TrustTier::kWarning ? " or affirming" : ""));
    }
  }

  for (size_t i = 0; i < tees_.size(); ++i) {
    if (present.count(tees_[i]) == 0) {
      return Deny(
          JsonPathIndex("$.tee", i),
          absl::StrCat(
              "required evidence type ", tees_[i], " is not present (present: ",
              present.empty() ? "none" : absl::StrJoin(present, ", "), ")"));
    }
  }

  ClauseEvaluator evaluator(claims, resolver, now);
  ClauseResult r = evaluator.Evaluate(*require_);
  PolicyDecision d;
  if (r.outcome == Outcome::kMatch) {
    d.allow = true;
  } else {
    d = Deny(r.path, r.detail);
  }
  d.consulted_sets = evaluator.consulted();
  return d;
}

}  // namespace strongroom::attest
