#include "attest/appraisal.h"

#include <algorithm>

#include "nlohmann/json.hpp"

namespace strongroom::attest {

absl::string_view TrustTierName(TrustTier tier) {
  switch (tier) {
    case TrustTier::kNone:
      return "none";
    case TrustTier::kAffirming:
      return "affirming";
    case TrustTier::kWarning:
      return "warning";
    case TrustTier::kContraindicated:
      return "contraindicated";
  }
  return "none";
}

// AR4SI: -1..1 and 0 are "none"; 2..31 affirming; 32..95 warning;
// 96..127 contraindicated; negative values are reserved / unknown.
TrustTier TierOf(int8_t claim) {
  if (claim >= 96) return TrustTier::kContraindicated;
  if (claim >= 32) return TrustTier::kWarning;
  if (claim >= 2) return TrustTier::kAffirming;
  return TrustTier::kNone;
}

TrustTier TrustVector::Tier() const {
  const int8_t all[] = {instance_identity, configuration, executables,
                        file_system,       hardware,      runtime_opaque,
                        storage_opaque,    sourced_data};
  TrustTier worst = TrustTier::kNone;
  for (int8_t c : all) {
    TrustTier t = TierOf(c);
    if (static_cast<int>(t) > static_cast<int>(worst)) worst = t;
  }
  return worst;
}

nlohmann::json TrustVector::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  auto put = [&](const char* name, int8_t v) {
    if (v != 0) out[name] = v;
  };
  put("instance-identity", instance_identity);
  put("configuration", configuration);
  put("executables", executables);
  put("file-system", file_system);
  put("hardware", hardware);
  put("runtime-opaque", runtime_opaque);
  put("storage-opaque", storage_opaque);
  put("sourced-data", sourced_data);
  return out;
}

nlohmann::json Appraisal::ToEarSubmodule() const {
  nlohmann::json out;
  out["ear.status"] = std::string(TrustTierName(status()));
  out["ear.trustworthiness-vector"] = trust.ToJson();
  return out;
}

TrustTier OverallTier(std::span<const Appraisal> appraisals) {
  bool any_none = appraisals.empty(), any_warning = false, any_contraindicated = false;
  for (const Appraisal& a : appraisals) {
    switch (a.status()) {
      case TrustTier::kNone:
        any_none = true;
        break;
      case TrustTier::kWarning:
        any_warning = true;
        break;
      case TrustTier::kContraindicated:
        any_contraindicated = true;
        break;
      case TrustTier::kAffirming:
        break;
    }
  }
  return any_contraindicated ? TrustTier::kContraindicated
         : any_none          ? TrustTier::kNone
         : any_warning       ? TrustTier::kWarning
                             : TrustTier::kAffirming;
}

}  // namespace strongroom::attest
