// KeyBroker: releases keys only to workloads whose attested state satisfies
// the key's release policy, sealed so that only that workload can open them.
//
// Protocol (proto/strongroom/v1/key_broker.proto, docs/broker.md):
//   GetChallenge  a single-use 32-byte nonce bound to the caller and the key.
//   Attest        evidence bound to SHA-256(label || kem || nonce || pk)
//                 (attest/binding.h) is verified, the key's pinned policy
//                 version evaluated; the result is an EAR JWT (ES256, HSM
//                 key) naming the key, the policy version, the reference
//                 values relied on, and cnf = pk.
//   ReleaseKey /  the token is checked (signature, expiry, revocation, the
//   GetDataKey    caller, the key, the public key, the policy and reference
//                 values it relied on are unchanged) and the key material or
//                 a fresh data key is sealed to pk with HPKE base mode,
//                 DHKEM(kem)/HKDF-SHA256/AES-256-GCM; info = aad =
//                 "strongroom-release-v1" 0 version-name 0 token-id.
//   Attest with `release`: the same release with the new token, in the same
//                 call (one admission, both audit records).
//
// Datasets (docs/sealed-store.md, "Workload reads and writes"): with key =
// "datasets/{id}", GetChallenge/Attest evaluate the dataset's release policy
// (its current version; found through the DatasetDirectory) and the token
// names the dataset instead of a key. Such a token lets the workload read
// the dataset's objects (the store asks AuthorizeWorkloadRead), get an
// object's data key sealed to it (GetObjectKey: the KMS unwraps the key on
// behalf of the dataset's owner with the object's context), and upload new
// versions (AuthorizeWorkloadWrite, then GetUploadKey: a fresh data key
// wrapped under the dataset's key exactly as for an owner's upload). The
// token stands while the dataset's policy (name and current version) and
// the reference values it relied on are unchanged. Object keys are sealed
// like releases, with info = aad =
//   "strongroom-object-key-v1" (GetObjectKey) or "strongroom-upload-key-v1"
//   (GetUploadKey) 0 "datasets/{id}" 0 name 0 decimal(version) 0
//   key-version-name 0 token-id.
// Whether a dataset exists or has a policy is never told to a caller
// without a token for it beyond the reason id `dataset_not_releasable`.
//
// Every decision is appended to the audit log (kms/audit). Refusals are
// PermissionDenied("refused: <reason id> (audit <sequence>)"); the detail is
// only in the audit record. Over-eager callers get ResourceExhausted.
//
// Only principals with the workload role may call the flow RPCs; admins
// revoke tokens; auditors and admins export the audit log.
//
// Thread-safe.
#ifndef STRONGROOM_KMS_BROKER_KEY_BROKER_H_
#define STRONGROOM_KMS_BROKER_KEY_BROKER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "attest/composite.h"
#include "base/clock.h"
#include "kms/audit/audit_log.h"
#include "kms/broker/admin_audit.h"
#include "kms/broker/attestation_admin.h"
#include "kms/broker/challenge_store.h"
#include "kms/broker/dataset_directory.h"
#include "kms/broker/ear_token.h"
#include "kms/broker/rate_limiter.h"
#include "kms/broker/recent_cache.h"
#include "kms/caller.h"
#include "kms/hpke/keys.h"
#include "kms/key_manager.h"
#include "storage/sealed/object_store.h"
#include "strongroom/v1/key_broker.pb.h"

namespace strongroom::kms {

struct BrokerOptions {
  absl::Duration challenge_ttl = absl::Seconds(60);
  absl::Duration token_ttl = absl::Minutes(5);
  double rate_per_second = 500;  // per principal; <= 0 disables
  double rate_burst = 1000;
  size_t max_challenges = 100000;
  size_t max_challenges_per_principal = 1024;  // outstanding at once
  // Revocations kept even after their tokens expired, up to this many
  // (kKeptRevocations; see AttestationAdmin::ActiveRevocations).
  size_t kept_revocations = kKeptRevocations;
  std::string verifier_id = "strongroomd";
  std::string collateral_dir;  // default Evidence.collateral_dir
};

// What a valid token grants, for other services (the sealed store).
struct TokenGrant {
  std::string token_id;
  std::string principal;
  std::string key;  // keys/{key}, or datasets/{id} for a dataset token
};

class KeyBroker final : public storage::sealed::ObjectReadAuthorizer {
 public:
  // Every reference must outlive the broker.
  KeyBroker(KeyManager& keys, AttestationAdmin& admin,
            const attest::VerifierSet& verifiers, const EarTokenSigner& signer,
            AuditLog& audit, const Clock& clock, BrokerOptions options);

  // Wires dataset tokens; until then "datasets/..." requests fail with
  // FailedPrecondition. `directory` must outlive the broker (or be unset
  // with nullptr first). Thread-safe.
  void SetDatasetDirectory(DatasetDirectory* directory);

  absl::StatusOr<v1::GetChallengeResponse> GetChallenge(
      const Caller& c, const v1::GetChallengeRequest& r);
  absl::StatusOr<v1::AttestResponse> Attest(const Caller& c,
                                            const v1::AttestRequest& r);
  absl::StatusOr<v1::ReleaseKeyResponse> ReleaseKey(
      const Caller& c, const v1::ReleaseKeyRequest& r);
  absl::StatusOr<v1::GetDataKeyResponse> GetDataKey(
      const Caller& c, const v1::GetDataKeyRequest& r);
  // Dataset tokens only (see above). Refusals: PermissionDenied with
  // token_* reason ids (token_wrong_dataset for a token of another dataset
  // or of a key, token_wrong_public_key), upload_wrong_principal;
  // FailedPrecondition "refused: key_version_not_usable" when the KMS key
  // version that wraps the object's data key is destroyed, disabled or
  // below the key's minimum; NotFound for an object or upload that does
  // not exist (asked with a valid token for its dataset). Every release and
  // every refusal is audited (actions object_key, upload_key); a lookup or
  // KMS failure after a valid token (NotFound, DATA_LOSS, UNAVAILABLE) is
  // returned without a record: nothing was decided or released.
  absl::StatusOr<v1::GetObjectKeyResponse> GetObjectKey(const Caller& c,
                                                        const v1::GetObjectKeyRequest& r);
  absl::StatusOr<v1::GetUploadKeyResponse> GetUploadKey(const Caller& c,
                                                        const v1::GetUploadKeyRequest& r);
  absl::StatusOr<v1::GetJwksResponse> GetJwks(const Caller& c,
                                              const v1::GetJwksRequest& r);
  absl::StatusOr<v1::RevokeTokenResponse> RevokeToken(
      const Caller& c, const v1::RevokeTokenRequest& r);
  // The export in pieces of at most kExportChunkBytes, in order, handed to
  // `sink` (whose error ends the export and is returned).
  static constexpr size_t kExportChunkBytes = 1 << 20;
  absl::Status ExportAudit(const Caller& c, const v1::ExportAuditRequest& r,
                           const std::function<absl::Status(absl::string_view)>& sink);

  // Checks a token presented by `c` for reading data protected by `key`
  // ("keys/k" or "datasets/{id}"; same checks as ReleaseKey, minus the
  // public key); refusals are audited.
  absl::StatusOr<TokenGrant> CheckToken(const Caller& c, absl::string_view token,
                                        absl::string_view key);

  // storage::sealed::ObjectReadAuthorizer: a workload's token for
  // "datasets/{dataset}" (CheckToken), audited as "read" / "upload"
  // decisions. OK or PermissionDenied "refused: <reason id> (audit N)".
  // The allow record's detail: the token id and `object`.
  absl::Status AuthorizeWorkloadRead(const Caller& caller, absl::string_view token,
                                     absl::string_view dataset, absl::string_view object) override;
  absl::Status AuthorizeWorkloadWrite(const Caller& caller, absl::string_view token,
                                      absl::string_view dataset, absl::string_view object) override;

  // Admin changes made elsewhere (policies, reference values, key
  // lifecycle, the store) in the same audit chain, before they take effect
  // (admin_audit.h): the request, synced (an error: UNAVAILABLE, the change
  // must not be made); then the change applied, or refused with why.
  absl::Status AuditAdminRequest(const Caller& c, absl::string_view action,
                                 absl::string_view resource);
  void AuditAdminChange(const Caller& c, absl::string_view action,
                        absl::string_view resource, absl::string_view detail);
  void AuditAdminRefused(const Caller& c, absl::string_view action, absl::string_view resource,
                         const absl::Status& why);
  // The three above, for the services that make admin changes.
  AdminAudit admin_audit();

 private:
  // One admin-change record, its failure logged (`stage`: request, applied
  // or refused); the append's status.
  absl::Status AppendAdminRecord(const Caller& c, absl::string_view action,
                                 absl::string_view resource, AuditDecision decision,
                                 std::string reason_id, absl::string_view detail,
                                 absl::string_view stage);
  // ReleaseKey after admission (Attest with `release` is admitted once; its
  // attest record, appended unsynced, is `after`: the release record follows
  // it, AuditLog::Append).
  absl::StatusOr<v1::ReleaseKeyResponse> ReleaseAdmitted(const Caller& c,
                                                         const v1::ReleaseKeyRequest& r,
                                                         const AuditLog::Ticket* after = nullptr);
  struct CheckedToken;
  // Appends the denial and returns PermissionDenied naming the reason id.
  absl::Status Deny(const Caller& c, absl::string_view action, absl::string_view resource,
                    absl::string_view reason_id, absl::string_view detail,
                    absl::string_view evidence_digest = "", absl::string_view policy_digest = "",
                    const AuditLog::Ticket* after = nullptr);
  // `key_name` is "keys/k[/versions/n]" or "datasets/{id}".
  absl::StatusOr<CheckedToken> CheckTokenFor(const Caller& c, absl::string_view action,
                                             absl::string_view token,
                                             absl::string_view key_name);
  // Revocation by change for a dataset token: the dataset's policy and its
  // current version are those the token names, and so is the binding of the
  // dataset's key when that key is dual_control.
  absl::Status CheckDatasetUnchanged(const Caller& c, absl::string_view action,
                                     absl::string_view resource, const CheckedToken& t);
  // The policy a dataset is released under, for Attest: Deny
  // (dataset_not_releasable / policy_unavailable) when there is none. A
  // dataset under a dual_control key is released only when the key's own
  // binding (its policy version under the pinned and the current
  // reference values) allows as well: Deny(dataset_not_releasable) when no
  // second admin has bound one.
  struct DatasetPolicy {
    std::string name;
    int64_t version = 0;
    std::string key;  // keys/{k}: the dataset's key
    std::optional<KeyManager::ReleaseBinding> dual_control_binding;
  };
  absl::StatusOr<DatasetPolicy> DatasetPolicyFor(const Caller& c, absl::string_view dataset,
                                                 absl::string_view evidence_digest,
                                                 const AuditLog::Ticket* after);
  absl::StatusOr<DatasetDirectory*> Directory() const;
  // The workload's public key when it is the token's cnf key; otherwise
  // Deny(token_wrong_public_key).
  absl::StatusOr<hpke::PublicKey> TokenPublicKey(const Caller& c, absl::string_view action,
                                                 absl::string_view resource,
                                                 const CheckedToken& t,
                                                 absl::string_view public_key);
  // HPKE base-mode seal of `plaintext` to `pk` with info = aad = `info`.
  absl::StatusOr<v1::SealedKey> SealTo(const hpke::PublicKey& pk, const Bytes& info,
                                       std::span<const uint8_t> plaintext,
                                       absl::string_view key_version,
                                       absl::string_view token_id);
  // Appends an allow record (`evidence_digest`: the token's, for releases),
  // synced, after `after` when set (AuditLog::Append).
  absl::Status Allow(const Caller& c, absl::string_view action, absl::string_view resource,
                     absl::string_view detail, absl::string_view policy_digest,
                     uint32_t key_version = 0, absl::string_view evidence_digest = "",
                     const AuditLog::Ticket* after = nullptr);
  // Deny with another status code than PermissionDenied.
  absl::Status DenyWithCode(absl::StatusCode code, const Caller& c, absl::string_view action,
                            absl::string_view resource, absl::string_view reason_id,
                            absl::string_view detail, absl::string_view evidence_digest = "",
                            const AuditLog::Ticket* after = nullptr);
  absl::Status Admit(const Caller& c);
  // hpke::PublicKey::Create, remembered by kem and bytes: a workload sends
  // the same ephemeral key with each request, and parsing and validating a
  // P-256 point costs more than the rest of a release check.
  absl::StatusOr<hpke::PublicKey> ParsePublicKey(hpke::Kem kem, absl::string_view bytes);
  // The shared tail of ReleaseKey and GetDataKey: checks that `public_key`
  // is the token's cnf key and the key is releasable, takes the plaintext
  // from `secret`, seals it to the workload and audits the release.
  using SecretSource =
      std::function<absl::StatusOr<SecretBytes>(const KeyManager::ReleaseTarget&)>;
  absl::StatusOr<v1::SealedKey> SealForToken(const Caller& c, absl::string_view action,
                                             const std::string& key_name, const CheckedToken& t,
                                             absl::string_view public_key,
                                             const SecretSource& secret,
                                             const AuditLog::Ticket* after = nullptr);

  KeyManager& keys_;
  AttestationAdmin& admin_;
  const attest::VerifierSet& verifiers_;
  const EarTokenSigner& signer_;
  AuditLog& audit_;
  const Clock& clock_;
  const BrokerOptions options_;
  ChallengeStore challenges_;
  RateLimiter limiter_;
  RecentCache<hpke::PublicKey> public_keys_{4096};
  std::atomic<DatasetDirectory*> directory_{nullptr};
  mutable std::mutex revoked_mu_;
  std::map<std::string, absl::Time> revoked_;  // token id -> its expiry
  // The stored revocations could not be read (at start): no token is
  // accepted until they can (a check tries again, at most once a second:
  // the read scans the database under revoked_mu_, which every token check
  // takes), since one revoked before the restart would otherwise pass.
  bool revocations_unread_ = false;
  absl::Time revocations_retry_after_ = absl::InfinitePast();
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_KEY_BROKER_H_
