// AttestationAdmin: the stored side of attestation. Named, versioned
// reference-value sets and release policies live in RocksDB (every version is
// kept, so an appraisal can say exactly what it relied on); a dry run
// verifies evidence and evaluates a policy without releasing or writing
// anything.
//
// Keys: "attest/rv/{name}/{version:020}" and "attest/pol/{name}/{version:020}",
// each a serialized v1 message. A put writes the next version in one synced
// batch; a delete removes every version in one batch.
//
// Authorization: admins write; admins and auditors read; admins and key
// owners dry-run. Errors: InvalidArgument naming the field (for policies,
// the JSON path); NotFound; PermissionDenied for the wrong role.
//
// Caches: parsed policy versions (immutable once stored) and the current
// version of each reference-value set that Resolve() returned; every put or
// delete of a set drops the set cache, and a Resolve() that read the
// database while such a change happened does not cache what it read. Only
// this class writes these keys, so the cache cannot go stale.
//
// Thread-safe: writes are serialized by a mutex; reads go to the caches or
// to RocksDB.
#ifndef STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_H_
#define STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "attest/composite.h"
#include "attest/policy/policy.h"
#include "attest/policy/reference_values.h"
#include "base/clock.h"
#include "kms/caller.h"
#include "storage/database.h"
#include "strongroom/v1/attestation.pb.h"

namespace strongroom::kms {

class AttestationAdmin final : public attest::ReferenceValueResolver {
 public:
  // `verifiers` must outlive this object.
  AttestationAdmin(storage::Database& db, const attest::VerifierSet& verifiers,
                   const Clock& clock, std::string verifier_id);

  absl::StatusOr<v1::ReferenceValueSet> PutReferenceValues(
      const Caller& c, const v1::PutReferenceValuesRequest& r);
  absl::StatusOr<v1::ReferenceValueSet> GetReferenceValues(
      const Caller& c, const v1::GetReferenceValuesRequest& r);
  absl::StatusOr<v1::ListReferenceValuesResponse> ListReferenceValues(
      const Caller& c, const v1::ListReferenceValuesRequest& r);
  absl::StatusOr<v1::DeleteReferenceValuesResponse> DeleteReferenceValues(
      const Caller& c, const v1::DeleteReferenceValuesRequest& r);

  absl::StatusOr<v1::AttestationPolicy> PutPolicy(
      const Caller& c, const v1::PutPolicyRequest& r);
  absl::StatusOr<v1::AttestationPolicy> GetPolicy(
      const Caller& c, const v1::GetPolicyRequest& r);
  absl::StatusOr<v1::ListPoliciesResponse> ListPolicies(
      const Caller& c, const v1::ListPoliciesRequest& r);
  absl::StatusOr<v1::DeletePolicyResponse> DeletePolicy(
      const Caller& c, const v1::DeletePolicyRequest& r);

  absl::StatusOr<v1::DryRunPolicyResponse> DryRunPolicy(
      const Caller& c, const v1::DryRunPolicyRequest& r);

  // Called after each successful change (put/delete of a set or policy), so
  // the broker can record it in the audit chain.
  using ChangeObserver = std::function<void(const Caller&, absl::string_view action,
                                            absl::string_view resource,
                                            absl::string_view detail)>;
  void SetChangeObserver(ChangeObserver observer) { observer_ = std::move(observer); }

  // For the key broker: a stored policy, parsed (version 0 = current).
  // Versions are immutable, so parsed versions are cached.
  absl::StatusOr<attest::Policy> LoadPolicy(absl::string_view name,
                                            int64_t version = 0) const;
  // OK when LoadPolicy(name, version) would succeed; a cached version is
  // answered without copying it (the broker asks on every release).
  absl::Status CheckPolicyExists(absl::string_view name, int64_t version) const;
  // The current version number of a policy (NotFound when absent).
  absl::StatusOr<int64_t> CurrentPolicyVersion(absl::string_view name) const;
  // A release binding's version: the current one for 0, else `version` if it
  // is still stored (InvalidArgument naming release_policy_version when it
  // was never written or went with a deletion; NotFound for an unknown policy).
  absl::StatusOr<int64_t> ResolvePolicyVersion(absl::string_view name, int64_t version) const;

  // Explicit token revocations, kept in the database so that a restart does
  // not forget them (the key broker holds them in memory and reloads them at
  // start), each with the time by which its token has expired.
  absl::Status PutRevocation(absl::string_view token_id, absl::Time token_expiry);
  // The stored revocations (token id -> expiry). Those whose tokens have
  // expired at `now` are deleted, earliest expiry first, only when more than
  // `keep` are stored (down to 90% of it, TrimExpiredRevocations): an entry judged expired by a
  // clock stepped forward would otherwise be gone when the clock is set back and its token,
  // unexpired again, would pass (see TrimExpiredRevocations).
  absl::StatusOr<std::map<std::string, absl::Time>> ActiveRevocations(absl::Time now, size_t keep);

  // ReferenceValueResolver: the current version of a set.
  absl::StatusOr<attest::ReferenceValueSet> Resolve(
      absl::string_view name) const override;
  // One stored version of a set (NotFound when it no longer exists).
  absl::StatusOr<attest::ReferenceValueSet> ResolveVersion(absl::string_view name,
                                                           int64_t version) const;
  // The sets policy `name` at `version` names, each as "set@current
  // version" (sets that do not exist now are left out): what a dual-control
  // key binding pins. Version numbers are never reused, even after a set is
  // deleted and created again, so a pin always means the same values.
  absl::StatusOr<std::vector<std::string>> PinReferenceSets(absl::string_view name,
                                                            int64_t version) const;

 private:
  absl::StatusOr<v1::ReferenceValueSet> ReadSet(absl::string_view id,
                                                int64_t version) const;
  absl::StatusOr<v1::AttestationPolicy> ReadPolicy(absl::string_view id,
                                                   int64_t version) const;

  storage::Database& db_;
  const attest::VerifierSet& verifiers_;
  const Clock& clock_;
  std::string verifier_id_;
  std::mutex write_mu_;
  ChangeObserver observer_;
  // Drops every cached reference-value set (after a put or delete).
  void InvalidateReferenceValues();

  mutable std::mutex cache_mu_;
  mutable std::map<std::pair<std::string, int64_t>, attest::Policy> policy_cache_;
  // Bumped by every policy deletion; guarded by cache_mu_. LoadPolicy caches
  // what it read only if no deletion ran meanwhile (else it could put back a
  // version DeletePolicy had just removed).
  mutable uint64_t policy_generation_ = 0;
  // Resolve()'s answers by set name; guarded by cache_mu_.
  mutable std::map<std::string, attest::ReferenceValueSet, std::less<>> set_cache_;
  // Bumped by every put or delete of a set; guarded by cache_mu_.
  mutable uint64_t set_generation_ = 0;
};

// Conversions between the admin API and the domain, shared with the CLI.
absl::StatusOr<attest::Evidence> EvidenceFromProto(const v1::EvidenceItem& item,
                                                   absl::string_view field);

// Evidence a request may carry (Attest, DryRunPolicy): 1..kMaxEvidenceItems
// items, each at most kMaxEvidenceBytes (payload and certificates).
inline constexpr size_t kMaxEvidenceItems = 4;
// The longest an attestation-result token may live (broker.token_ttl's bound).
inline constexpr absl::Duration kMaxTokenLifetime = absl::Hours(24);
// Revocations kept whatever the clock says (BrokerOptions::kept_revocations):
// revocations are admin requests, one audited RPC each, so this many whose
// tokens are still alive is far beyond any real use; ~200 bytes each in
// memory, ~100 on disk.
inline constexpr size_t kKeptRevocations = 100000;
// When more than `keep` entries are held, drops expired entries of `revoked`
// (token id -> expiry at `now`), earliest expiry first, until at most 90% of
// `keep` remain or none has expired.
void TrimExpiredRevocations(std::map<std::string, absl::Time>& revoked, absl::Time now,
                            size_t keep);
inline constexpr size_t kMaxEvidenceBytes = 256 * 1024;
// InvalidArgument naming the field ("evidence: 0 items, expected 1..4",
// "evidence[1]: N bytes, at most 262144") when `items` is outside those.
absl::Status CheckEvidenceSizes(const google::protobuf::RepeatedPtrField<v1::EvidenceItem>& items);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_ATTESTATION_ADMIN_H_
