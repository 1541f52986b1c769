#include "kms/hpke/suite.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kms/hpke/aead_cipher.h"
#include "kms/hpke/hkdf.h"

namespace strongroom::kms::hpke {
namespace {

std::string Unknown(absl::string_view what, uint16_t id) {
  return absl::StrFormat("unknown %s 0x%04x", what, id);
}

bool KnownKem(Kem kem) {
  return kem == Kem::kDhkemP256HkdfSha256 || kem == Kem::kDhkemX25519HkdfSha256;
}

void PutU16(uint8_t* out, uint16_t v) {
  out[0] = static_cast<uint8_t>(v >> 8);
  out[1] = static_cast<uint8_t>(v);
}

}  // namespace

std::string KemName(Kem kem) {
  switch (kem) {
    case Kem::kDhkemP256HkdfSha256:
      return "DHKEM(P-256, HKDF-SHA256)";
    case Kem::kDhkemX25519HkdfSha256:
      return "DHKEM(X25519, HKDF-SHA256)";
  }
  return Unknown("KEM", static_cast<uint16_t>(kem));
}

std::string KdfName(Kdf kdf) {
  switch (kdf) {
    case Kdf::kHkdfSha256:
      return "HKDF-SHA256";
  }
  return Unknown("KDF", static_cast<uint16_t>(kdf));
}

std::string AeadName(Aead aead) {
  switch (aead) {
    case Aead::kAes128Gcm:
      return "AES-128-GCM";
    case Aead::kAes256Gcm:
      return "AES-256-GCM";
    case Aead::kChaCha20Poly1305:
      return "ChaCha20Poly1305";
    case Aead::kExportOnly:
      return "Export-only";
  }
  return Unknown("AEAD", static_cast<uint16_t>(aead));
}

size_t KemEncSize(Kem kem) {
  switch (kem) {
    case Kem::kDhkemP256HkdfSha256:
      return 65;
    case Kem::kDhkemX25519HkdfSha256:
      return 32;
  }
  return 0;
}

size_t KemPublicKeySize(Kem kem) { return KemEncSize(kem); }

size_t KemPrivateKeySize(Kem kem) { return KnownKem(kem) ? 32 : 0; }

absl::StatusOr<Suite> Suite::Create(Kem kem, Kdf kdf, Aead aead) {
  if (!KnownKem(kem)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kem: ", Unknown("KEM", static_cast<uint16_t>(kem)), " (supported: 0x0010, 0x0020)"));
  }
  if (kdf != Kdf::kHkdfSha256) {
    return absl::InvalidArgumentError(
        absl::StrCat("kdf: ", Unknown("KDF", static_cast<uint16_t>(kdf)), " (supported: 0x0001)"));
  }
  Suite suite;
  suite.kem_ = kem;
  suite.kdf_ = kdf;
  suite.aead_ = aead;
  auto hkdf = internal::Hkdf::Get(kdf);
  if (!hkdf.ok()) return hkdf.status();
  suite.hkdf_ = *hkdf;
  if (aead != Aead::kExportOnly) {
    if (aead != Aead::kAes128Gcm && aead != Aead::kAes256Gcm && aead != Aead::kChaCha20Poly1305) {
      return absl::InvalidArgumentError(
          absl::StrCat("aead: ", Unknown("AEAD", static_cast<uint16_t>(aead)),
                       " (supported: 0x0001, 0x0002, 0x0003, 0xffff)"));
    }
    auto algorithm = internal::AeadAlgorithm::Get(aead);
    if (!algorithm.ok()) return algorithm.status();
    suite.aead_impl_ = *algorithm;
  }
  uint8_t* id = suite.suite_id_.data();
  id[0] = 'H';
  id[1] = 'P';
  id[2] = 'K';
  id[3] = 'E';
  PutU16(id + 4, static_cast<uint16_t>(kem));
  PutU16(id + 6, static_cast<uint16_t>(kdf));
  PutU16(id + 8, static_cast<uint16_t>(aead));
  return suite;
}

size_t Suite::key_size() const { return aead_impl_ == nullptr ? 0 : aead_impl_->key_size(); }
size_t Suite::nonce_size() const { return aead_impl_ == nullptr ? 0 : aead_impl_->nonce_size(); }
size_t Suite::tag_size() const { return aead_impl_ == nullptr ? 0 : aead_impl_->tag_size(); }
size_t Suite::hash_size() const { return hkdf_->hash_size(); }

std::string Suite::ToString() const {
  return absl::StrCat(KemName(kem_), ", ", KdfName(kdf_), ", ", AeadName(aead_));
}

}  // namespace strongroom::kms::hpke
