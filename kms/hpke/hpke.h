// Hybrid Public Key Encryption (RFC 9180) on OpenSSL 3.0 primitives.
//
// Suites: see kms/hpke/suite.h (DHKEM P-256 / X25519 with HKDF-SHA256;
// HKDF-SHA256; AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, export-only).
// Modes: base, psk, auth and auth_psk. Keys: kms/hpke/keys.h. Contexts:
// kms/hpke/context.h.
//
//   ASSIGN_OR_RETURN(Suite suite, Suite::Create(Kem::kDhkemX25519HkdfSha256,
//                                               Kdf::kHkdfSha256, Aead::kAes128Gcm));
//   // sender
//   ASSIGN_OR_RETURN(SenderContext s, SetupBaseS(suite, pkR, info));
//   ASSIGN_OR_RETURN(Bytes ct, s.Seal(aad, pt));      // send s.enc() and ct
//   // recipient
//   ASSIGN_OR_RETURN(RecipientContext r, SetupBaseR(suite, enc, skR, info));
//   ASSIGN_OR_RETURN(SecretBytes pt, r.Open(aad, ct));
//
// Error contract (all functions):
//  - InvalidArgument naming the field for malformed or invalid input: a key
//    of another KEM than the suite's ("recipient_public_key", ...), an enc of
//    the wrong length or not a valid point ("enc"), an X25519 low-order
//    point (all-zero shared secret, RFC 9180 7.1.4), psk / psk_id that do not
//    fit the mode or a psk under 32 bytes, an export length over 255 * Nh.
//  - InvalidArgument "hpke: ciphertext does not authenticate" when Open
//    fails authentication, one message for every cause.
//  - FailedPrecondition for Seal/Open with the export-only AEAD;
//    ResourceExhausted when a context's sequence numbers run out.
//  - Internal when OpenSSL fails on valid input.
// No message carries secret bytes. All functions are thread-safe (the
// contexts they return are not; see context.h).
#ifndef STRONGROOM_KMS_HPKE_HPKE_H_
#define STRONGROOM_KMS_HPKE_HPKE_H_

#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/context.h"
#include "kms/hpke/keys.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke {

// Base mode (RFC 9180 5.1.1).
absl::StatusOr<SenderContext> SetupBaseS(const Suite& suite, const PublicKey& pkR,
                                         std::span<const uint8_t> info);
absl::StatusOr<RecipientContext> SetupBaseR(const Suite& suite, std::span<const uint8_t> enc,
                                            const PrivateKey& skR, std::span<const uint8_t> info);

// PSK mode (5.1.2): psk of at least 32 bytes, non-empty psk_id.
absl::StatusOr<SenderContext> SetupPskS(const Suite& suite, const PublicKey& pkR,
                                        std::span<const uint8_t> info, const SecretBytes& psk,
                                        std::span<const uint8_t> psk_id);
absl::StatusOr<RecipientContext> SetupPskR(const Suite& suite, std::span<const uint8_t> enc,
                                           const PrivateKey& skR, std::span<const uint8_t> info,
                                           const SecretBytes& psk, std::span<const uint8_t> psk_id);

// Auth mode (5.1.3): the sender proves possession of skS.
absl::StatusOr<SenderContext> SetupAuthS(const Suite& suite, const PublicKey& pkR,
                                         std::span<const uint8_t> info, const PrivateKey& skS);
absl::StatusOr<RecipientContext> SetupAuthR(const Suite& suite, std::span<const uint8_t> enc,
                                            const PrivateKey& skR, std::span<const uint8_t> info,
                                            const PublicKey& pkS);

// AuthPSK mode (5.1.4).
absl::StatusOr<SenderContext> SetupAuthPskS(const Suite& suite, const PublicKey& pkR,
                                            std::span<const uint8_t> info, const SecretBytes& psk,
                                            std::span<const uint8_t> psk_id, const PrivateKey& skS);
absl::StatusOr<RecipientContext> SetupAuthPskR(const Suite& suite, std::span<const uint8_t> enc,
                                               const PrivateKey& skR, std::span<const uint8_t> info,
                                               const SecretBytes& psk,
                                               std::span<const uint8_t> psk_id,
                                               const PublicKey& pkS);

// Single-shot base-mode encryption (RFC 9180 6.1): one message, sequence 0.
struct Sealed {
  Bytes enc;
  Bytes ciphertext;  // ciphertext || tag
};
absl::StatusOr<Sealed> Seal(const Suite& suite, const PublicKey& pkR, std::span<const uint8_t> info,
                            std::span<const uint8_t> aad, std::span<const uint8_t> plaintext);
absl::StatusOr<SecretBytes> Open(const Suite& suite, const PrivateKey& skR,
                                 std::span<const uint8_t> enc, std::span<const uint8_t> info,
                                 std::span<const uint8_t> aad, std::span<const uint8_t> ciphertext);

}  // namespace strongroom::kms::hpke

#endif  // STRONGROOM_KMS_HPKE_HPKE_H_
