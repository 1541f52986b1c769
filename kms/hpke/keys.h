// HPKE KEM keys: PublicKey, PrivateKey, KeyPair, and their encodings.
//
// Encodings (RFC 9180 Section 7.1.1 and 7.1.2):
//   P-256   public:  65 bytes, uncompressed SEC1 point 04 || X || Y
//           private: 32 bytes, big-endian scalar in [1, n-1]
//   X25519  public:  32 raw bytes (RFC 7748)
//           private: 32 raw bytes. Serialize() returns the bytes as they were
//           imported or derived (unclamped: the RFC 9180 test vectors store
//           them so); X25519 clamps on use, so both forms are the same key.
// Plus the standard containers: SubjectPublicKeyInfo (DER / "PUBLIC KEY" PEM)
// and unencrypted PKCS#8 PrivateKeyInfo (DER / "PRIVATE KEY" PEM). Imported
// PKCS#8 P-256 keys have their public point recomputed from the scalar; an
// embedded public key is ignored.
//
// Validation on import: P-256 points must be uncompressed (in the raw
// encoding), have coordinates below p and lie on the curve; X25519 public
// keys are checked where they are used (an all-zero Diffie-Hellman output,
// i.e. a low-order point, is refused by the KEM, RFC 9180 7.1.4).
//
// Ownership and thread-safety: keys are immutable values sharing one OpenSSL
// key object; copies are cheap and any key may be used from several threads
// at once. (A P-256 key pair this library generated, and the public half of
// any key pair it made, build their OpenSSL objects on first use, under a
// mutex, and try again on the next use if OpenSSL could not.) Private
// scalars live in SecretBytes, in a P-256 key's secure-heap BIGNUM and in
// OpenSSL's key object, each wiped when the last copy goes.
//
// Errors: InvalidArgument naming the field (and, for public data, the value
// at fault, e.g. its length) for malformed input; never the private bytes.
#ifndef STRONGROOM_KMS_HPKE_KEYS_H_
#define STRONGROOM_KMS_HPKE_KEYS_H_

#include <openssl/types.h>

#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "kms/hpke/suite.h"

namespace strongroom::kms::hpke {

struct KeyPair;

class PublicKey {
 public:
  // DeserializePublicKey for `kem`; `field` names the input in errors.
  static absl::StatusOr<PublicKey> Create(Kem kem, std::span<const uint8_t> serialized,
                                          absl::string_view field = "public_key");
  // A DER SubjectPublicKeyInfo holding a P-256 (named curve) or X25519 key.
  static absl::StatusOr<PublicKey> FromSpkiDer(std::span<const uint8_t> der,
                                               absl::string_view field = "public_key");
  // A "-----BEGIN PUBLIC KEY-----" PEM block (SubjectPublicKeyInfo).
  static absl::StatusOr<PublicKey> FromPem(absl::string_view pem,
                                           absl::string_view field = "public_key");

  Kem kem() const { return kem_; }
  // SerializePublicKey: the encoding above (equal to `enc` for an ephemeral).
  const Bytes& Serialize() const { return serialized_; }
  absl::StatusOr<Bytes> ToSpkiDer() const;
  absl::StatusOr<std::string> ToPem() const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) {
    return a.kem_ == b.kem_ && a.serialized_ == b.serialized_;
  }

  // For this library's internals: the validated OpenSSL key (do not modify).
  // nullptr only when OpenSSL could not allocate it (a key of our own is
  // built on first use).
  EVP_PKEY* evp_pkey() const;

 private:
  friend class PrivateKey;
  friend absl::StatusOr<KeyPair> GenerateKeyPair(Kem kem);
  struct Lazy;

  PublicKey(Kem kem, Bytes serialized, std::shared_ptr<EVP_PKEY> pkey)
      : kem_(kem), serialized_(std::move(serialized)), pkey_(std::move(pkey)) {}
  // The public half of a key pair this library made (generated, derived, or
  // a private key's own point): nothing to validate, and the OpenSSL object
  // is only built when the key is used as a peer or encoded (an ephemeral
  // key's public half is only ever serialized into `enc`).
  static PublicKey FromOwnKeyPair(Kem kem, Bytes serialized);

  Kem kem_;
  Bytes serialized_;
  std::shared_ptr<EVP_PKEY> pkey_;  // imported keys: validated on import
  std::shared_ptr<Lazy> lazy_;      // keys of our own: built on first use
};

class PrivateKey {
 public:
  // DeserializePrivateKey for `kem`: exactly 32 bytes; for P-256 a scalar in
  // [1, n-1].
  static absl::StatusOr<PrivateKey> Create(Kem kem, const SecretBytes& serialized);
  // Unencrypted PKCS#8 PrivateKeyInfo, DER or "-----BEGIN PRIVATE KEY-----"
  // PEM (encrypted PEM is refused, never prompted for).
  static absl::StatusOr<PrivateKey> FromPkcs8Der(const SecretBytes& der);
  static absl::StatusOr<PrivateKey> FromPkcs8Pem(const SecretBytes& pem);

  Kem kem() const;
  const PublicKey& public_key() const;
  // SerializePrivateKey (see the encodings above).
  SecretBytes Serialize() const;
  absl::StatusOr<SecretBytes> ToPkcs8Der() const;
  absl::StatusOr<SecretBytes> ToPkcs8Pem() const;

  // For this library's internals: the OpenSSL key (do not modify; built on
  // first use for a generated P-256 key, nullptr only when OpenSSL could not
  // allocate it).
  EVP_PKEY* evp_pkey() const;
  // For this library's internals: a P-256 key's scalar, parsed once
  // (internal::P256Scalar; only read); nullptr for X25519.
  const BIGNUM* p256_scalar() const;

 private:
  friend absl::StatusOr<KeyPair> GenerateKeyPair(Kem kem);
  struct Rep;
  explicit PrivateKey(std::shared_ptr<const Rep> rep) : rep_(std::move(rep)) {}

  std::shared_ptr<const Rep> rep_;
};

struct KeyPair {
  PrivateKey private_key;
  PublicKey public_key;
};

// A fresh key pair from the CSPRNG (RFC 9180 7.1.3 allows any randomized
// generation): for P-256 a uniform scalar in [1, n-1] and its point
// (internal::P256Generate, as EC key generation draws it), for X25519 32
// random bytes. Not DeriveKeyPair: that costs
// several HKDF calls and rebuilds the key from its own output.
absl::StatusOr<KeyPair> GenerateKeyPair(Kem kem);

// DeriveKeyPair (RFC 9180 7.1.3). `ikm` must hold at least Nsk (32) bytes;
// InvalidArgument naming "ikm" otherwise.
absl::StatusOr<KeyPair> DeriveKeyPair(Kem kem, const SecretBytes& ikm);

}  // namespace strongroom::kms::hpke

#endif  // STRONGROOM_KMS_HPKE_KEYS_H_
