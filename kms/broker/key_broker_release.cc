// KeyBroker: releases with a token (ReleaseKey, GetDataKey; Attest with
// `release` goes through ReleaseAdmitted), HPKE sealing to the token's key.
#include <openssl/crypto.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/broker/key_broker.h"
#include "kms/broker/key_broker_internal.h"
#include "kms/hpke/hpke.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"
#include "kms/resource_names.h"

namespace strongroom::kms {
namespace {

constexpr char kReleaseLabel[] = "strongroom-release-v1";

// The HPKE info (and aad) of a release: label 0 version-name 0 token-id.
Bytes ReleaseInfo(absl::string_view version_name, absl::string_view token_id) {
  std::string s = absl::StrCat(kReleaseLabel, absl::string_view("\0", 1), version_name,
                               absl::string_view("\0", 1), token_id);
  return Bytes(s.begin(), s.end());
}

}  // namespace

absl::StatusOr<v1::SealedKey> KeyBroker::SealForToken(
    const Caller& c, absl::string_view action, const std::string& key_name, const CheckedToken& t,
    absl::string_view public_key, const SecretSource& secret, const AuditLog::Ticket* after) {
  ASSIGN_OR_RETURN(hpke::PublicKey pk, TokenPublicKey(c, action, key_name, t, public_key));
  // The check's lookup stands for a release of the key's primary version;
  // a named version is looked up.
  const KeyManager::ReleaseTarget* target = nullptr;
  absl::StatusOr<KeyManager::ReleaseTarget> looked_up;
  if (t.target.has_value() && key_name == t.key) {
    target = &*t.target;
  } else {
    looked_up = keys_.FindReleaseTarget(key_name);
    if (!looked_up.ok()) {
      return Deny(c, action, key_name, "key_not_releasable", looked_up.status().message());
    }
    target = &*looked_up;
  }
  absl::StatusOr<SecretBytes> plaintext = secret(*target);
  if (absl::IsFailedPrecondition(plaintext.status())) {
    // The version left ENABLED (suspended, compromised, scheduled for
    // destruction) or went below the minimum decryption version since the
    // target was found: a refusal, audited as one.
    return Deny(c, action, target->version_name, "key_not_releasable",
                plaintext.status().message());
  }
  if (!plaintext.ok()) return plaintext.status();
  const Bytes info = ReleaseInfo(target->version_name, t.token_id);
  ASSIGN_OR_RETURN(v1::SealedKey out,
                   SealTo(pk, info, plaintext->Reveal(), target->version_name, t.token_id));
  RETURN_IF_ERROR(Allow(c, action, target->version_name, absl::StrCat("token ", t.token_id),
                        t.policy_digest, target->version, t.evidence_digest, after));
  return out;
}

absl::StatusOr<hpke::PublicKey> KeyBroker::TokenPublicKey(const Caller& c, absl::string_view action,
                                                          absl::string_view resource,
                                                          const CheckedToken& t,
                                                          absl::string_view public_key) {
  const nlohmann::json& jwk = JsonMember(JsonMember(*t.payload, "cnf"), "jwk");
  hpke::Kem kem = JsonString(jwk, "crv") == "X25519" ? hpke::Kem::kDhkemX25519HkdfSha256
                                                     : hpke::Kem::kDhkemP256HkdfSha256;
  absl::StatusOr<hpke::PublicKey> pk = ParsePublicKey(kem, public_key);
  if (!pk.ok() || PublicKeyJwk(kem, pk->Serialize()) != jwk) {
    return Deny(c, action, resource, "token_wrong_public_key",
                absl::StrCat("token ", t.token_id, " is bound to another public key"));
  }
  return pk;
}

absl::StatusOr<v1::SealedKey> KeyBroker::SealTo(const hpke::PublicKey& pk, const Bytes& info,
                                                std::span<const uint8_t> plaintext,
                                                absl::string_view key_version,
                                                absl::string_view token_id) {
  const hpke::Kem kem = pk.kem();
  ASSIGN_OR_RETURN(hpke::Suite suite,
                   hpke::Suite::Create(kem, hpke::Kdf::kHkdfSha256, hpke::Aead::kAes256Gcm));
  ASSIGN_OR_RETURN(hpke::Sealed sealed, hpke::Seal(suite, pk, info, info, plaintext));
  v1::SealedKey out;
  out.set_key_version(std::string(key_version));
  out.set_kem(kem == hpke::Kem::kDhkemX25519HkdfSha256 ? v1::HPKE_KEM_X25519_SHA256
                                                       : v1::HPKE_KEM_P256_SHA256);
  out.set_enc(std::string(AsStringView(sealed.enc)));
  out.set_ciphertext(std::string(AsStringView(sealed.ciphertext)));
  out.set_token_id(std::string(token_id));
  out.set_info(std::string(AsStringView(info)));
  return out;
}

absl::Status KeyBroker::Allow(const Caller& c, absl::string_view action, absl::string_view resource,
                              absl::string_view detail, absl::string_view policy_digest,
                              uint32_t key_version, absl::string_view evidence_digest,
                              const AuditLog::Ticket* after) {
  AuditEntry e{.principal = c.principal,
               .action = std::string(action),
               .resource = std::string(resource),
               .decision = AuditDecision::kAllow,
               .reason_id = "",
               .reason_detail = AuditSafeDetail(detail),
               .evidence_digest = std::string(evidence_digest),
               .policy_digest = std::string(policy_digest),
               .key_version = key_version};
  return audit_.Append(std::move(e), after).status();
}

absl::StatusOr<v1::ReleaseKeyResponse> KeyBroker::ReleaseKey(const Caller& c,
                                                             const v1::ReleaseKeyRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  return ReleaseAdmitted(c, r);
}

absl::Status CheckTokenAndPublicKeyShape(absl::string_view token, absl::string_view public_key) {
  if (token.empty()) return absl::InvalidArgumentError("token: empty");
  if (public_key.size() != 65 && public_key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("public_key: ", public_key.size(),
                     " bytes, expected an uncompressed P-256 point (65) or an X25519 key (32)"));
  }
  return absl::OkStatus();
}

namespace {

// The shape of a ReleaseKey / GetDataKey request, before its token is
// checked (and a decision audited): InvalidArgument naming the field.
absl::Status CheckReleaseRequest(absl::string_view token, const std::string& key_name,
                                 absl::string_view public_key) {
  if (token.empty()) return absl::InvalidArgumentError("token: empty");
  RETURN_IF_ERROR(ParseKeyOrVersionName(key_name, "key").status());
  return CheckTokenAndPublicKeyShape(token, public_key);
}

}  // namespace

absl::StatusOr<v1::ReleaseKeyResponse> KeyBroker::ReleaseAdmitted(const Caller& c,
                                                                  const v1::ReleaseKeyRequest& r,
                                                                  const AuditLog::Ticket* after) {
  const std::string key_name = NormalizeKey(r.key());
  RETURN_IF_ERROR(CheckReleaseRequest(r.token(), key_name, r.public_key()));
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(c, "release", r.token(), key_name));
  v1::ReleaseKeyResponse out;
  ASSIGN_OR_RETURN(*out.mutable_sealed(), SealForToken(
                                              c, "release", key_name, t, r.public_key(),
                                              [&](const KeyManager::ReleaseTarget& target) {
                                                return keys_.ReleaseMaterial(target);
                                              },
                                              after));
  return out;
}

absl::StatusOr<v1::GetDataKeyResponse> KeyBroker::GetDataKey(const Caller& c,
                                                             const v1::GetDataKeyRequest& r) {
  RETURN_IF_ERROR(Admit(c));
  const std::string key_name = NormalizeKey(r.key());
  if (r.associated_data().size() > 4096) {
    return absl::InvalidArgumentError("associated_data: longer than 4096 bytes");
  }
  RETURN_IF_ERROR(CheckReleaseRequest(r.token(), key_name, r.public_key()));
  ASSIGN_OR_RETURN(CheckedToken t, CheckTokenFor(c, "datakey", r.token(), key_name));
  v1::GetDataKeyResponse out;
  ASSIGN_OR_RETURN(
      *out.mutable_sealed(),
      SealForToken(c, "datakey", key_name, t, r.public_key(),
                   [&](const KeyManager::ReleaseTarget& target) -> absl::StatusOr<SecretBytes> {
                     ASSIGN_OR_RETURN(auto data_key,
                                      keys_.NewDataKeyFor(target, AsBytes(r.associated_data())));
                     out.set_wrapped(std::string(AsStringView(data_key.second)));
                     return std::move(data_key.first);
                   }));
  return out;
}

}  // namespace strongroom::kms
