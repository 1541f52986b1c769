// EarTokenSigner: issues and checks attestation-result tokens.
//
// A token is a JWS compact JWT (RFC 7515 / 7519) signed with ES256 by a P-256
// key pair that lives in the HSM (found by label, created non-extractable on
// first use). Its payload is an EAR (draft-ietf-rats-ear): eat_profile, iat,
// exp, ear.verifier-id, submods with per-TEE status and trustworthiness
// vector, plus `cnf` (RFC 7800) carrying the workload's ephemeral public key
// as a JWK and `jti`. The public key is published as a JWKS (RFC 7517) whose
// `kid` is the RFC 7638 thumbprint, so any JWT library can verify tokens.
//
// Signing goes to the HSM, with a session-object copy of the key when the
// module allows one (Hsm::CopyToSession: the same key, without SoftHSM
// re-reading the token object's file for every signature; a new copy is made
// after a module re-initialization, and the token object is used when no copy
// can be made); verification uses the cached public key in software. A token's header and signature
// are properties of its bytes, so the tokens this signer issued and those Verify() accepted are
// remembered by their exact bytes (a bounded, least-recently-used set): a token presented again
// skips the ECDSA verification and the JSON parse, while its expiry and issue time are checked
// against `now` on every call. A token that differs in any byte is verified in full.
//
// Thread-safe after Create().
#ifndef STRONGROOM_KMS_BROKER_EAR_TOKEN_H_
#define STRONGROOM_KMS_BROKER_EAR_TOKEN_H_

#include <openssl/evp.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kms/broker/recent_cache.h"
#include "kms/pkcs11/hsm.h"
#include "nlohmann/json.hpp"

namespace strongroom::kms {

// How far in the future a token's iat may be (clock differences) and still
// be accepted.
inline constexpr absl::Duration kTokenIatLeeway = absl::Seconds(60);

class EarTokenSigner {
 public:
  // Finds the key pair labelled `label` in the token, or generates it.
  static absl::StatusOr<std::unique_ptr<EarTokenSigner>> Create(
      pkcs11::Hsm& hsm, absl::string_view label);
  ~EarTokenSigner();

  // Header {"alg":"ES256","typ":"JWT","kid":kid()} + `payload`.
  absl::StatusOr<std::string> Sign(const nlohmann::json& payload) const;

  // Checks the header (alg ES256, our kid), the signature, and that
  // iat - leeway <= now < exp. Returns the payload. PermissionDenied naming
  // the defect ("token signature does not verify", "token expired at ...");
  // InvalidArgument for a token that does not parse.
  absl::StatusOr<nlohmann::json> Verify(absl::string_view jwt,
                                        absl::Time now) const;
  // As Verify(), but the payload is shared with the verified-token cache
  // instead of copied (a payload is dozens of JSON nodes; the key broker
  // checks every release's token and reads only a few of them).
  absl::StatusOr<std::shared_ptr<const nlohmann::json>> VerifyShared(absl::string_view jwt,
                                                                     absl::Time now) const;

  // How many tokens are remembered as verified, at most.
  static constexpr size_t kVerifiedCapacity = 4096;

  const std::string& kid() const { return kid_; }
  // {"keys":[{"kty":"EC","crv":"P-256","x":..,"y":..,"kid":..,"alg":"ES256","use":"sig"}]}
  nlohmann::json Jwks() const;

 private:
  EarTokenSigner(pkcs11::Hsm& hsm, pkcs11::KeyHandle private_key,
                 Bytes public_point, EVP_PKEY* public_key, std::string kid);

  // A token known to carry our valid signature, with its parsed payload.
  struct Verified {
    std::shared_ptr<const nlohmann::json> payload;
    absl::Time iat;
    absl::Time exp;
  };

  // The key to sign with: the session copy, or the token object.
  pkcs11::KeyHandle SigningKey() const;
  // After the session copy of `generation` failed: a new copy, or none.
  void RenewSessionKey(uint64_t generation) const;

  pkcs11::Hsm& hsm_;
  pkcs11::KeyHandle private_key_;
  mutable std::mutex session_key_mu_;
  mutable std::optional<pkcs11::KeyHandle> session_key_;  // guarded by session_key_mu_
  Bytes public_point_;
  EVP_PKEY* public_key_;
  std::string kid_;
  // By the token's exact bytes.
  mutable RecentCache<Verified> verified_{kVerifiedCapacity};
};

// The JWK of an uncompressed P-256 point (kty, crv, x, y).
nlohmann::json P256Jwk(std::span<const uint8_t> uncompressed_point);
// RFC 7638 thumbprint (base64url SHA-256) of an EC JWK.
std::string JwkThumbprint(const nlohmann::json& jwk);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_BROKER_EAR_TOKEN_H_
