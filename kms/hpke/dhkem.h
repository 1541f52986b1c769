// Internal to kms/hpke: DHKEM (RFC 9180 Section 4.1) over P-256 and X25519.
//
// Encap/Decap cover both the plain and the authenticated variants (a sender
// key given means AuthEncap/AuthDecap). Encap takes the ephemeral key from
// its caller so that known-answer tests can pass DeriveKeyPair(ikmE); the
// public Setup functions always pass GenerateKeyPair().
//
// Errors: InvalidArgument naming "enc" / the key field for a malformed or
// invalid public key (wrong length, off-curve point, X25519 low-order point
// giving an all-zero shared secret) or for keys of a different KEM; Internal
// for OpenSSL failures. Thread-safe (no shared mutable state).
#ifndef STRONGROOM_KMS_HPKE_DHKEM_H_
#define STRONGROOM_KMS_HPKE_DHKEM_H_

#include <array>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke::internal {

// "KEM" || I2OSP(kem_id, 2): the suite_id of the KEM's own labeled KDF calls.
std::array<uint8_t, 5> KemSuiteId(Kem kem);

// DH(sk, pk): the 32-byte x-coordinate (P-256) or X25519 output. Refuses an
// all-zero result (InvalidArgument naming `field`, the public key's name).
absl::StatusOr<SecretBytes> Dh(const PrivateKey& sk, const PublicKey& pk, absl::string_view field);

struct EncapResult {
  SecretBytes shared_secret;
  Bytes enc;
};

// Encap(pkR) with ephemeral key skE, or AuthEncap(pkR, skS) when skS is set.
absl::StatusOr<EncapResult> Encap(const PublicKey& pkR, const PrivateKey& skE,
                                  const PrivateKey* skS);
// Decap(enc, skR), or AuthDecap(enc, skR, pkS) when pkS is set.
absl::StatusOr<SecretBytes> Decap(std::span<const uint8_t> enc, const PrivateKey& skR,
                                  const PublicKey* pkS);

}  // namespace strongroom::kms::hpke::internal

#endif  // STRONGROOM_KMS_HPKE_DHKEM_H_
