// HPKE (RFC 9180) algorithm identifiers and the Suite value type.
//
// A Suite is one (KEM, KDF, AEAD) combination that this library implements.
// Suite::Create() checks the combination once and resolves everything the
// per-message paths need (sizes, the OpenSSL cipher and HMAC objects, the
// 10-byte "HPKE" suite_id), so a Suite is built once and reused: nothing is
// parsed or fetched per call.
//
// Supported:
//   KEM  0x0010 DHKEM(P-256, HKDF-SHA256), 0x0020 DHKEM(X25519, HKDF-SHA256)
//   KDF  0x0001 HKDF-SHA256
//   AEAD 0x0001 AES-128-GCM, 0x0002 AES-256-GCM, 0x0003 ChaCha20-Poly1305,
//        0xFFFF export-only
// Anything else is InvalidArgument naming the field and the id.
//
// Thread-safety: Suite is an immutable value; copies are cheap and may be
// used from any thread.
#ifndef STRONGROOM_KMS_HPKE_SUITE_H_
#define STRONGROOM_KMS_HPKE_SUITE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/statusor.h"

namespace strongroom::kms::hpke {

// Values are the RFC 9180 / IANA registry ids, so a wire id can be cast to
// the enum and handed to Suite::Create(), which rejects unknown values.
enum class Kem : uint16_t {
  kDhkemP256HkdfSha256 = 0x0010,
  kDhkemX25519HkdfSha256 = 0x0020,
};
enum class Kdf : uint16_t {
  kHkdfSha256 = 0x0001,
};
enum class Aead : uint16_t {
  kAes128Gcm = 0x0001,
  kAes256Gcm = 0x0002,
  kChaCha20Poly1305 = 0x0003,
  kExportOnly = 0xFFFF,
};
enum class Mode : uint8_t {
  kBase = 0,
  kPsk = 1,
  kAuth = 2,
  kAuthPsk = 3,
};

// "DHKEM(X25519, HKDF-SHA256)" etc.; "unknown KEM 0x0011" for other values.
std::string KemName(Kem kem);
std::string KdfName(Kdf kdf);
std::string AeadName(Aead aead);

// RFC 9180 Table 2 sizes for a supported KEM (0 for an unknown one).
size_t KemEncSize(Kem kem);         // Nenc
size_t KemPublicKeySize(Kem kem);   // Npk
size_t KemPrivateKeySize(Kem kem);  // Nsk

namespace internal {
class Hkdf;
class AeadAlgorithm;
}  // namespace internal

class Suite {
 public:
  // InvalidArgument naming "kem", "kdf" or "aead" for an unsupported id;
  // Unavailable when OpenSSL lacks the algorithm (e.g. a FIPS-only build
  // without ChaCha20-Poly1305).
  static absl::StatusOr<Suite> Create(Kem kem, Kdf kdf, Aead aead);

  Kem kem() const { return kem_; }
  Kdf kdf() const { return kdf_; }
  Aead aead() const { return aead_; }
  bool export_only() const { return aead_ == Aead::kExportOnly; }

  size_t enc_size() const { return KemEncSize(kem_); }  // Nenc
  size_t key_size() const;                              // Nk (0 for export-only)
  size_t nonce_size() const;                            // Nn (0 for export-only)
  size_t tag_size() const;                              // Nt (0 for export-only)
  size_t hash_size() const;                             // Nh of the suite KDF

  // "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM".
  std::string ToString() const;

  friend bool operator==(const Suite& a, const Suite& b) {
    return a.kem_ == b.kem_ && a.kdf_ == b.kdf_ && a.aead_ == b.aead_;
  }

  // For this library's internals: "HPKE" || kem_id || kdf_id || aead_id.
  std::span<const uint8_t> suite_id() const { return suite_id_; }
  const internal::Hkdf& kdf_impl() const { return *hkdf_; }
  // nullptr for export-only.
  const internal::AeadAlgorithm* aead_impl() const { return aead_impl_; }

 private:
  Suite() = default;

  Kem kem_ = Kem::kDhkemX25519HkdfSha256;
  Kdf kdf_ = Kdf::kHkdfSha256;
  Aead aead_ = Aead::kExportOnly;
  std::array<uint8_t, 10> suite_id_{};
  const internal::Hkdf* hkdf_ = nullptr;                // static lifetime
  const internal::AeadAlgorithm* aead_impl_ = nullptr;  // static lifetime
};

}  // namespace strongroom::kms::hpke

#endif  // STRONGROOM_KMS_HPKE_SUITE_H_
