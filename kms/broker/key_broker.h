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

#include <memory>
#include <mutex>
#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "attest/composite.h"
#include "base/clock.h"
#include "kms/audit/audit_log.h"
#include "kms/broker/attestation_admin.h"
#include "kms/broker/challenge_store.h"
#include "kms/broker/ear_token.h"
#include "kms/broker/rate_limiter.h"
#include "kms/broker/recent_cache.h"
#include "kms/caller.h"
#include "kms/hpke/keys.h"
#include "kms/key_manager.h"
#include "strongroom/v1/key_broker.pb.h"

namespace strongroom::kms {

struct BrokerOptions {
  absl::Duration challenge_ttl = absl::Seconds(60);
  absl::Duration token_ttl = absl::Minutes(5);
  double rate_per_second = 500;  // per principal; <= 0 disables
  double rate_burst = 1000;
  size_t max_challenges = 100000;
  std::string verifier_id = "strongroomd";
  std::string collateral_dir;  // default Evidence.collateral_dir
};

// What a valid token grants, for other services (the sealed store).
struct TokenGrant {
  std::string token_id;
  std::string principal;
  std::string key;  // keys/{key}
};

class KeyBroker {
 public:
  // Every reference must outlive the broker.
  KeyBroker(KeyManager& keys, AttestationAdmin& admin,
            const attest::VerifierSet& verifiers, const EarTokenSigner& signer,
            AuditLog& audit, const Clock& clock, BrokerOptions options);

  absl::StatusOr<v1::GetChallengeResponse> GetChallenge(
      const Caller& c, const v1::GetChallengeRequest& r);
  absl::StatusOr<v1::AttestResponse> Attest(const Caller& c,
                                            const v1::AttestRequest& r);
  absl::StatusOr<v1::ReleaseKeyResponse> ReleaseKey(
      const Caller& c, const v1::ReleaseKeyRequest& r);
  absl::StatusOr<v1::GetDataKeyResponse> GetDataKey(
      const Caller& c, const v1::GetDataKeyRequest& r);
  absl::StatusOr<v1::GetJwksResponse> GetJwks(const Caller& c,
                                              const v1::GetJwksRequest& r);
  absl::StatusOr<v1::RevokeTokenResponse> RevokeToken(
      const Caller& c, const v1::RevokeTokenRequest& r);
  absl::StatusOr<v1::ExportAuditResponse> ExportAudit(
      const Caller& c, const v1::ExportAuditRequest& r);

  // Checks a token presented by `c` for reading data protected by `key`
  // (same checks as ReleaseKey, minus the public key); audited.
  absl::StatusOr<TokenGrant> CheckToken(const Caller& c, absl::string_view token,
                                        absl::string_view key);

  // Records an admin change made elsewhere (policies, reference values,
  // key lifecycle) in the same audit chain.
  void AuditAdminChange(const Caller& c, absl::string_view action,
                        absl::string_view resource, absl::string_view detail);

 private:
  struct CheckedToken;
  // Appends the denial and returns PermissionDenied naming the reason id.
  absl::Status Deny(const Caller& c, absl::string_view action,
                    absl::string_view resource, absl::string_view reason_id,
                    absl::string_view detail, absl::string_view evidence_digest = "",
                    absl::string_view policy_digest = "");
  absl::StatusOr<CheckedToken> CheckTokenFor(const Caller& c, absl::string_view action,
                                             absl::string_view token,
                                             absl::string_view key_name);
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
                                             const std::string& key_name,
                                             const CheckedToken& t,
                                             absl::string_view public_key,
                                             const SecretSource& secret);

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
  mutable std::mutex revoked_mu_;
  std::map<std::string, absl::Time> revoked_;  // token id -> its expiry
};

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_KEY_BROKER_H_
