#include "kms/broker/attestation_admin.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/log.h"
#include "base/status_macros.h"
#include "kms/broker/attestation_admin_internal.h"
#include "kms/resource_names.h"
#include "nlohmann/json.hpp"

namespace strongroom::kms {
namespace {

using internal::RequireRole;

constexpr absl::string_view kRvPrefix = "attest/rv/";
constexpr absl::string_view kPolicyPrefix = "attest/pol/";
// "<prefix minus '/'>-deleted/<id>" -> the last version a deleted set or
// policy had: a name created again continues its numbering, so a version
// number, once used, always means the same content (keys pin versions).
std::string TombstoneKey(absl::string_view prefix, absl::string_view id) {
  absl::string_view base = prefix;
  base.remove_suffix(1);
  return absl::StrCat(base, "-deleted/", id);
}
// "attest/revoked/<token id>" -> the token's expiry (unix seconds).
constexpr absl::string_view kRevokedPrefix = "attest/revoked/";
// As a reference-value set document may hold (docs/policy.md), so that
// every document `refvalues put --values-file` accepts can be stored.
constexpr size_t kMaxValues = attest::kMaxReferenceValues;
constexpr size_t kMaxValueBytes = 1024;
constexpr size_t kMaxPolicyBytes = 64 * 1024;

// "referenceValues/x" or "x" -> "x"; ids follow the key-id syntax.
absl::StatusOr<std::string> ParseName(absl::string_view name,
                                      absl::string_view collection,
                                      absl::string_view field) {
  absl::string_view id = name;
  std::string prefix = absl::StrCat(collection, "/");
  if (absl::StartsWith(id, prefix)) id.remove_prefix(prefix.size());
  RETURN_IF_ERROR(ValidateKeyId(id, field));
  return std::string(id);
}

std::string VersionKey(absl::string_view prefix, absl::string_view id,
                       int64_t version) {
  return absl::StrFormat("%s%s/%020d", prefix, id, version);
}

// A stored set as the policy evaluator resolves it.
attest::ReferenceValueSet ToResolved(absl::string_view name, const v1::ReferenceValueSet& set) {
  attest::ReferenceValueSet out;
  out.name = std::string(name);
  out.version = set.version();
  out.values.assign(set.values().begin(), set.values().end());
  out.description = set.description();
  out.expires_at = set.expire_time_unix() == 0 ? absl::InfiniteFuture()
                                               : absl::FromUnixSeconds(set.expire_time_unix());
  return out;
}

// The highest stored version of `id`, 0 when none.
absl::StatusOr<int64_t> StoredLatestVersion(const storage::Database& db, absl::string_view prefix,
                                            absl::string_view id) {
  int64_t latest = 0;
  std::string p = absl::StrCat(prefix, id, "/");
  RETURN_IF_ERROR(db.Scan(p, "", [&](absl::string_view key, absl::string_view) {
    int64_t v = 0;
    if (absl::SimpleAtoi(key.substr(p.size()), &v) && v > latest) latest = v;
    return true;
  }));
  return latest;
}

// The version the next put of `id` follows: the highest stored one, or the
// last one before a deletion when that is higher.
absl::StatusOr<int64_t> LastUsedVersion(const storage::Database& db, absl::string_view prefix,
                                        absl::string_view id) {
  ASSIGN_OR_RETURN(int64_t latest, StoredLatestVersion(db, prefix, id));
  absl::StatusOr<std::string> tomb = db.Get(TombstoneKey(prefix, id));
  if (absl::IsNotFound(tomb.status())) return latest;
  RETURN_IF_ERROR(tomb.status());
  int64_t deleted = 0;
  if (!absl::SimpleAtoi(*tomb, &deleted)) {
    return absl::DataLossError(absl::StrCat("'", id, "': unreadable deletion record"));
  }
  return std::max(latest, deleted);
}

// Deletes every version of `id` and remembers the last version number.
absl::Status DeleteAll(storage::Database& db, absl::string_view prefix,
                       absl::string_view id) {
  rocksdb::WriteBatch batch;
  std::string p = absl::StrCat(prefix, id, "/");
  size_t n = 0;
  RETURN_IF_ERROR(db.Scan(p, "", [&](absl::string_view key, absl::string_view) {
    batch.Delete(rocksdb::Slice(key.data(), key.size()));
    ++n;
    return true;
  }));
  if (n == 0) return absl::NotFoundError(absl::StrCat("'", id, "' does not exist"));
  ASSIGN_OR_RETURN(int64_t last, LastUsedVersion(db, prefix, id));
  batch.Put(TombstoneKey(prefix, id), absl::StrCat(last));
  return db.Write(batch);
}

}  // namespace

AttestationAdmin::AttestationAdmin(storage::Database& db,
                                   const attest::VerifierSet& verifiers,
                                   const Clock& clock, std::string verifier_id)
    : db_(db),
      verifiers_(verifiers),
      clock_(clock),
      verifier_id_(std::move(verifier_id)) {}

absl::StatusOr<v1::ReferenceValueSet> AttestationAdmin::ReadSet(
    absl::string_view id, int64_t version) const {
  if (version == 0) {
    ASSIGN_OR_RETURN(version, StoredLatestVersion(db_, kRvPrefix, id));
    if (version == 0) {
      return absl::NotFoundError(
          absl::StrCat("reference-value set '", id, "' does not exist"));
    }
  }
  absl::StatusOr<std::string> raw = db_.Get(VersionKey(kRvPrefix, id, version));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(absl::StrCat("reference-value set '", id,
                                            "' has no version ", version));
  }
  RETURN_IF_ERROR(raw.status());
  v1::ReferenceValueSet set;
  if (!set.ParseFromString(*raw)) {
    return absl::DataLossError(
        absl::StrCat("reference-value set '", id, "' v", version,
                     ": stored record does not parse"));
  }
  return set;
}

absl::StatusOr<v1::ReferenceValueSet> AttestationAdmin::PutReferenceValues(
    const Caller& c, const v1::PutReferenceValuesRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin}, "change reference values"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "referenceValues", "name"));
  if (r.values().empty()) {
    return absl::InvalidArgumentError("values: at least one value required");
  }
  if (static_cast<size_t>(r.values_size()) > kMaxValues) {
    return absl::InvalidArgumentError(absl::StrCat(
        "values: ", r.values_size(), " values, at most ", kMaxValues));
  }
  std::set<absl::string_view> seen;
  for (int i = 0; i < r.values_size(); ++i) {
    const std::string& v = r.values(i);
    if (v.empty() || v.size() > kMaxValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "values[", i, "]: must be 1..", kMaxValueBytes, " bytes"));
    }
    if (!seen.insert(v).second) {
      return absl::InvalidArgumentError(absl::StrCat("values[", i, "]: repeats an earlier value"));
    }
    for (char ch : v) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
        return absl::InvalidArgumentError(
            absl::StrCat("values[", i, "]: control character"));
      }
    }
  }
  if (r.expire_time_unix() < 0) {
    return absl::InvalidArgumentError("expire_time_unix: negative");
  }
  if (r.description().size() > 1024) {  // as a key's description
    return absl::InvalidArgumentError("description: longer than 1024 bytes");
  }
  absl::Time now = clock_.Now();
  if (r.expire_time_unix() != 0 &&
      absl::FromUnixSeconds(r.expire_time_unix()) <= now) {
    return absl::InvalidArgumentError(
        absl::StrCat("expire_time_unix: ", r.expire_time_unix(),
                     " is not in the future"));
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  ASSIGN_OR_RETURN(int64_t latest, LastUsedVersion(db_, kRvPrefix, id));
  v1::ReferenceValueSet set;
  set.set_name(absl::StrCat("referenceValues/", id));
  set.set_version(latest + 1);
  *set.mutable_values() = r.values();
  set.set_description(r.description());
  set.set_expire_time_unix(r.expire_time_unix());
  set.set_create_time_unix(absl::ToUnixSeconds(now));
  set.set_created_by(c.principal);
  absl::Status stored = db_.Put(VersionKey(kRvPrefix, id, set.version()),
                                set.SerializeAsString());
  InvalidateReferenceValues();
  RETURN_IF_ERROR(stored);
  if (observer_) {
    observer_(c, "put_reference_values", set.name(), absl::StrCat("version ", set.version()));
  }
  LogInfo("attest.reference_values_put",
          {{"set", set.name()}, {"version", set.version()},
           {"values", static_cast<int64_t>(set.values_size())},
           {"principal", c.principal}});
  return set;
}

absl::StatusOr<v1::ReferenceValueSet> AttestationAdmin::GetReferenceValues(
    const Caller& c, const v1::GetReferenceValuesRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin, Role::kAuditor},
                              "read reference values"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "referenceValues", "name"));
  if (r.version() < 0) {
    return absl::InvalidArgumentError("version: negative");
  }
  return ReadSet(id, r.version());
}

absl::StatusOr<v1::ListReferenceValuesResponse>
AttestationAdmin::ListReferenceValues(const Caller& c,
                                      const v1::ListReferenceValuesRequest&) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin, Role::kAuditor},
                              "list reference values"));
  // Keys sort by name then version, so the last record of a name is current.
  v1::ListReferenceValuesResponse out;
  absl::Status parse_error;
  RETURN_IF_ERROR(db_.Scan(kRvPrefix, "", [&](absl::string_view, absl::string_view value) {
    v1::ReferenceValueSet set;
    if (!set.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      parse_error = absl::DataLossError("stored reference-value set does not parse");
      return false;
    }
    if (out.sets_size() > 0 && out.sets(out.sets_size() - 1).name() == set.name()) {
      *out.mutable_sets(out.sets_size() - 1) = std::move(set);
    } else {
      *out.add_sets() = std::move(set);
    }
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  return out;
}

absl::StatusOr<v1::DeleteReferenceValuesResponse>
AttestationAdmin::DeleteReferenceValues(const Caller& c,
                                        const v1::DeleteReferenceValuesRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin}, "delete reference values"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "referenceValues", "name"));
  std::lock_guard<std::mutex> lock(write_mu_);
  absl::Status deleted = DeleteAll(db_, kRvPrefix, id);
  InvalidateReferenceValues();
  RETURN_IF_ERROR(deleted);
  // The same resource name as the put records, so an auditor's filter on
  // "referenceValues/x" finds the deletion too.
  if (observer_) observer_(c, "delete_reference_values", absl::StrCat("referenceValues/", id), "");
  LogInfo("attest.reference_values_deleted",
          {{"set", id}, {"principal", c.principal}});
  return v1::DeleteReferenceValuesResponse();
}

void AttestationAdmin::InvalidateReferenceValues() {
  std::lock_guard<std::mutex> lock(cache_mu_);
  set_cache_.clear();
  ++set_generation_;
}

absl::StatusOr<attest::ReferenceValueSet> AttestationAdmin::Resolve(
    absl::string_view name) const {
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = set_cache_.find(name);
    if (it != set_cache_.end()) return it->second;
    generation = set_generation_;
  }
  ASSIGN_OR_RETURN(v1::ReferenceValueSet set, ReadSet(name, 0));
  attest::ReferenceValueSet out = ToResolved(name, set);
  std::lock_guard<std::mutex> lock(cache_mu_);
  // A put or delete since the read above: what was read may be stale.
  if (generation == set_generation_) {
    if (set_cache_.size() >= 1024) set_cache_.clear();
    set_cache_.emplace(std::string(name), out);
  }
  return out;
}

absl::Status AttestationAdmin::PutRevocation(absl::string_view token_id, absl::Time token_expiry) {
  return db_.Put(absl::StrCat(kRevokedPrefix, token_id),
                 absl::StrCat(absl::ToUnixSeconds(token_expiry)));
}

void TrimExpiredRevocations(std::map<std::string, absl::Time>& revoked, absl::Time now,
                            size_t keep) {
  if (revoked.size() <= keep) return;
  std::vector<std::pair<absl::Time, std::string>> expired;
  for (const auto& [id, until] : revoked) {
    if (until <= now) expired.emplace_back(until, id);
  }
  std::sort(expired.begin(), expired.end());
  // Down to 90% of `keep`, so this sort (under the lock every token check
  // takes) runs once per keep / 10 new entries, not at each one.
  const size_t low = keep - keep / 10;
  for (const auto& [until, id] : expired) {
    if (revoked.size() <= low) break;
    revoked.erase(id);
  }
}

absl::StatusOr<std::map<std::string, absl::Time>> AttestationAdmin::ActiveRevocations(
    absl::Time now, size_t keep) {
  std::map<std::string, absl::Time> active;
  RETURN_IF_ERROR(db_.Scan(kRevokedPrefix, "", [&](absl::string_view key, absl::string_view v) {
    int64_t seconds = 0;
    const std::string id(key.substr(kRevokedPrefix.size()));
    // Damaged: still a revocation, kept for the longest a token lives.
    active[id] =
        absl::SimpleAtoi(v, &seconds) ? absl::FromUnixSeconds(seconds) : now + kMaxTokenLifetime;
    return true;
  }));
  if (active.size() <= keep) return active;
  const std::map<std::string, absl::Time> all = active;
  TrimExpiredRevocations(active, now, keep);
  rocksdb::WriteBatch batch;
  for (const auto& [id, until] : all) {
    if (!active.contains(id)) batch.Delete(absl::StrCat(kRevokedPrefix, id));
  }
  // Clearing out expired entries is housekeeping: the active set stands
  // whether or not it succeeds (it is tried again at the next start).
  if (absl::Status s = db_.Write(batch); !s.ok()) {
    LogWarning("broker.revocation_cleanup_failed", {{"error", std::string(s.message())}});
  }
  return active;
}

absl::StatusOr<attest::ReferenceValueSet> AttestationAdmin::ResolveVersion(absl::string_view name,
                                                                           int64_t version) const {
  if (version < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference-value set '", name, "': version ", version));
  }
  ASSIGN_OR_RETURN(v1::ReferenceValueSet set, ReadSet(name, version));
  return ToResolved(name, set);
}

absl::StatusOr<std::vector<std::string>> AttestationAdmin::PinReferenceSets(absl::string_view name,
                                                                            int64_t version) const {
  ASSIGN_OR_RETURN(attest::Policy policy, LoadPolicy(name, version));
  std::vector<std::string> pins;
  for (const std::string& set : policy.ReferencedSets()) {
    absl::StatusOr<attest::ReferenceValueSet> current = Resolve(set);
    if (absl::IsNotFound(current.status())) continue;
    RETURN_IF_ERROR(current.status());
    pins.push_back(absl::StrCat(set, "@", current->version));
  }
  return pins;
}

absl::StatusOr<v1::AttestationPolicy> AttestationAdmin::ReadPolicy(
    absl::string_view id, int64_t version) const {
  if (version == 0) {
    ASSIGN_OR_RETURN(version, StoredLatestVersion(db_, kPolicyPrefix, id));
    if (version == 0) {
      return absl::NotFoundError(absl::StrCat("policy '", id, "' does not exist"));
    }
  }
  absl::StatusOr<std::string> raw =
      db_.Get(VersionKey(kPolicyPrefix, id, version));
  if (absl::IsNotFound(raw.status())) {
    return absl::NotFoundError(
        absl::StrCat("policy '", id, "' has no version ", version));
  }
  RETURN_IF_ERROR(raw.status());
  v1::AttestationPolicy policy;
  if (!policy.ParseFromString(*raw)) {
    return absl::DataLossError(absl::StrCat(
        "policy '", id, "' v", version, ": stored record does not parse"));
  }
  return policy;
}

absl::StatusOr<v1::AttestationPolicy> AttestationAdmin::PutPolicy(
    const Caller& c, const v1::PutPolicyRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin}, "change policies"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "policies", "name"));
  if (r.policy_json().size() > kMaxPolicyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy_json: ", r.policy_json().size(), " bytes, at most ",
        kMaxPolicyBytes));
  }
  absl::StatusOr<attest::Policy> parsed = attest::Policy::Parse(r.policy_json());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy_json: ", parsed.status().message()));
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  ASSIGN_OR_RETURN(int64_t latest, LastUsedVersion(db_, kPolicyPrefix, id));
  v1::AttestationPolicy policy;
  policy.set_name(absl::StrCat("policies/", id));
  policy.set_version(latest + 1);
  policy.set_policy_json(parsed->ToJson());
  policy.set_digest(parsed->Digest());
  policy.set_create_time_unix(absl::ToUnixSeconds(clock_.Now()));
  policy.set_created_by(c.principal);
  for (const std::string& s : parsed->ReferencedSets()) {
    policy.add_reference_value_sets(s);
  }
  RETURN_IF_ERROR(db_.Put(VersionKey(kPolicyPrefix, id, policy.version()),
                          policy.SerializeAsString()));
  if (observer_) {
    observer_(c, "put_policy", policy.name(),
              absl::StrCat("version ", policy.version(), " digest ", policy.digest()));
  }
  LogInfo("attest.policy_put", {{"policy", policy.name()},
                                {"version", policy.version()},
                                {"digest", policy.digest()},
                                {"principal", c.principal}});
  return policy;
}

absl::StatusOr<v1::AttestationPolicy> AttestationAdmin::GetPolicy(
    const Caller& c, const v1::GetPolicyRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin, Role::kAuditor, Role::kOwner},
                              "read policies"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "policies", "name"));
  if (r.version() < 0) return absl::InvalidArgumentError("version: negative");
  return ReadPolicy(id, r.version());
}

absl::StatusOr<v1::ListPoliciesResponse> AttestationAdmin::ListPolicies(
    const Caller& c, const v1::ListPoliciesRequest&) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin, Role::kAuditor, Role::kOwner},
                              "list policies"));
  v1::ListPoliciesResponse out;
  absl::Status parse_error;
  RETURN_IF_ERROR(db_.Scan(kPolicyPrefix, "", [&](absl::string_view, absl::string_view value) {
    v1::AttestationPolicy p;
    if (!p.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
      parse_error = absl::DataLossError("stored policy does not parse");
      return false;
    }
    if (out.policies_size() > 0 &&
        out.policies(out.policies_size() - 1).name() == p.name()) {
      *out.mutable_policies(out.policies_size() - 1) = std::move(p);
    } else {
      *out.add_policies() = std::move(p);
    }
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  return out;
}

absl::StatusOr<v1::DeletePolicyResponse> AttestationAdmin::DeletePolicy(
    const Caller& c, const v1::DeletePolicyRequest& r) {
  RETURN_IF_ERROR(RequireRole(c, {Role::kAdmin}, "delete policies"));
  ASSIGN_OR_RETURN(std::string id, ParseName(r.name(), "policies", "name"));
  std::lock_guard<std::mutex> lock(write_mu_);
  RETURN_IF_ERROR(DeleteAll(db_, kPolicyPrefix, id));
  {
    // Its versions are gone: a key pinned to one is no longer released.
    std::lock_guard<std::mutex> cache(cache_mu_);
    ++policy_generation_;
    for (auto it = policy_cache_.begin(); it != policy_cache_.end();) {
      it = it->first.first == id ? policy_cache_.erase(it) : std::next(it);
    }
  }
  if (observer_) observer_(c, "delete_policy", absl::StrCat("policies/", id), "");
  LogInfo("attest.policy_deleted", {{"policy", id}, {"principal", c.principal}});
  return v1::DeletePolicyResponse();
}

absl::StatusOr<attest::Policy> AttestationAdmin::LoadPolicy(
    absl::string_view name, int64_t version) const {
  ASSIGN_OR_RETURN(std::string id, ParseName(name, "policies", "policy"));
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (version != 0) {
      auto it = policy_cache_.find({id, version});
      if (it != policy_cache_.end()) return it->second;
    }
    generation = policy_generation_;
  }
  ASSIGN_OR_RETURN(v1::AttestationPolicy stored, ReadPolicy(id, version));
  absl::StatusOr<attest::Policy> parsed = attest::Policy::Parse(stored.policy_json());
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("stored policy '", id,
                                            "' no longer parses: ",
                                            parsed.status().message()));
  }
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (generation == policy_generation_) {
    if (policy_cache_.size() > 1024) policy_cache_.clear();
    policy_cache_.emplace(std::make_pair(id, stored.version()), *parsed);
  }
  return parsed;
}

absl::Status AttestationAdmin::CheckPolicyExists(absl::string_view name, int64_t version) const {
  if (version != 0) {
    ASSIGN_OR_RETURN(std::string id, ParseName(name, "policies", "policy"));
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (policy_cache_.count({id, version}) > 0) return absl::OkStatus();
  }
  return LoadPolicy(name, version).status();
}

absl::StatusOr<int64_t> AttestationAdmin::CurrentPolicyVersion(
    absl::string_view name) const {
  ASSIGN_OR_RETURN(std::string id, ParseName(name, "policies", "release_policy"));
  ASSIGN_OR_RETURN(int64_t v, StoredLatestVersion(db_, kPolicyPrefix, id));
  if (v == 0) {
    return absl::NotFoundError(absl::StrCat("policy '", id, "' does not exist"));
  }
  return v;
}

absl::StatusOr<int64_t> AttestationAdmin::ResolvePolicyVersion(absl::string_view name,
                                                               int64_t version) const {
  ASSIGN_OR_RETURN(std::string id, ParseName(name, "policies", "release_policy"));
  ASSIGN_OR_RETURN(int64_t current, CurrentPolicyVersion(name));
  if (version == 0) return current;
  if (version < 0 || version > current) {
    return absl::InvalidArgumentError(absl::StrCat("release_policy_version: ", version,
                                                   " does not exist (policy '", id,
                                                   "' is at version ", current, ")"));
  }
  absl::StatusOr<std::string> raw = db_.Get(VersionKey(kPolicyPrefix, id, version));
  if (absl::IsNotFound(raw.status())) {
    return absl::InvalidArgumentError(
        absl::StrCat("release_policy_version: ", version, " of policy '", id,
                     "' no longer exists (deleted with the policy; current is ", current, ")"));
  }
  RETURN_IF_ERROR(raw.status());
  return version;
}

}  // namespace strongroom::kms
