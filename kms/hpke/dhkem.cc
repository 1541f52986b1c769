#include "kms/hpke/dhkem.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "kms/hpke/hkdf.h"
#include "kms/hpke/openssl_util.h"
#include "kms/hpke/p256.h"

namespace strongroom::kms::hpke::internal {
namespace {

constexpr size_t kSecretSize = 32;  // Nsecret, and Ndh, of both KEMs

absl::Status SameKem(Kem want, Kem got, absl::string_view field) {
  if (want == got) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": key is for ", KemName(got), ", expected ", KemName(want)));
}

// ExtractAndExpand (RFC 9180 4.1): shared_secret from dh and kem_context.
absl::StatusOr<SecretBytes> ExtractAndExpand(Kem kem, std::span<const uint8_t> dh,
                                             std::span<const uint8_t> kem_context) {
  auto hkdf = Hkdf::Get(Kdf::kHkdfSha256);  // both DHKEMs use HKDF-SHA256
  if (!hkdf.ok()) return hkdf.status();
  const std::array<uint8_t, 5> suite_id = KemSuiteId(kem);
  auto eae_prk = LabeledExtract(**hkdf, suite_id, {}, "eae_prk", dh);
  if (!eae_prk.ok()) return eae_prk.status();
  return LabeledExpand(**hkdf, suite_id, eae_prk->Reveal(), "shared_secret", kem_context,
                       kSecretSize);
}

// dh = DH(a) || DH(b) when b is set, else DH(a).
SecretBytes Concat(SecretBytes first, const SecretBytes* second) {
  if (second == nullptr) return first;
  SecretBytes both(first.size() + second->size());
  std::memcpy(both.RevealMutable().data(), first.Reveal().data(), first.size());
  std::memcpy(both.RevealMutable().data() + first.size(), second->Reveal().data(), second->size());
  return both;
}

}  // namespace

std::array<uint8_t, 5> KemSuiteId(Kem kem) {
  const auto id = static_cast<uint16_t>(kem);
  return {'K', 'E', 'M', static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id)};
}

absl::StatusOr<SecretBytes> Dh(const PrivateKey& sk, const PublicKey& pk, absl::string_view field) {
  if (absl::Status s = SameKem(sk.kem(), pk.kem(), field); !s.ok()) return s;
  if (pk.kem() == Kem::kDhkemP256HkdfSha256) return P256Dh(sk.p256_scalar(), pk.Serialize(), field);
  OsslPtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, sk.evp_pkey(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) {
    return OpenSslInternalError("EVP_PKEY_derive_init");
  }
  // The peer was validated when the PublicKey was built (or is the public
  // half of a key pair of our own); skip OpenSSL's full (order-multiplying)
  // re-check.
  EVP_PKEY* peer = pk.evp_pkey();
  if (peer == nullptr) return absl::InternalError(absl::StrCat("hpke: ", field, ": no OpenSSL key"));
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer, 0) != 1) {
    return OpenSslInternalError("EVP_PKEY_derive_set_peer_ex");
  }
  SecretBytes out(kSecretSize);
  size_t len = out.size();
  if (EVP_PKEY_derive(ctx.get(), out.RevealMutable().data(), &len) != 1) {
    if (pk.kem() == Kem::kDhkemX25519HkdfSha256) {
      // OpenSSL refuses an all-zero X25519 result; that is the only input
      // dependent failure of X25519.
      ClearOpenSslErrors();
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": X25519 low-order public key (all-zero shared secret, RFC 9180 7.1.4)"));
    }
    return OpenSslInternalError("EVP_PKEY_derive");
  }
  if (len != kSecretSize) {
    return absl::InternalError(absl::StrCat("hpke: DH output is ", len, " bytes, expected 32"));
  }
  // RFC 9180 7.1.4 (X25519 only: a P-256 x-coordinate of 0 is a valid
  // point, and P-256 keys are validated on import instead).
  static constexpr uint8_t kZero[kSecretSize] = {};
  if (pk.kem() == Kem::kDhkemX25519HkdfSha256 &&
      CRYPTO_memcmp(out.Reveal().data(), kZero, kSecretSize) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": all-zero Diffie-Hellman output (RFC 9180 7.1.4)"));
  }
  return out;
}

absl::StatusOr<EncapResult> Encap(const PublicKey& pkR, const PrivateKey& skE,
                                  const PrivateKey* skS) {
  if (absl::Status s = SameKem(pkR.kem(), skE.kem(), "ephemeral_key"); !s.ok()) return s;
  auto dh_e = Dh(skE, pkR, "recipient_public_key");
  if (!dh_e.ok()) return dh_e.status();
  absl::StatusOr<SecretBytes> dh_s;
  if (skS != nullptr) {
    if (absl::Status s = SameKem(pkR.kem(), skS->kem(), "sender_private_key"); !s.ok()) {
      return s;
    }
    dh_s = Dh(*skS, pkR, "recipient_public_key");
    if (!dh_s.ok()) return dh_s.status();
  }
  SecretBytes dh = Concat(*std::move(dh_e), skS == nullptr ? nullptr : &*dh_s);

  const Bytes& enc = skE.public_key().Serialize();
  const Bytes& pkRm = pkR.Serialize();
  Bytes kem_context;
  kem_context.reserve(enc.size() + 2 * pkRm.size());
  kem_context.insert(kem_context.end(), enc.begin(), enc.end());
  kem_context.insert(kem_context.end(), pkRm.begin(), pkRm.end());
  if (skS != nullptr) {
    const Bytes& pkSm = skS->public_key().Serialize();
    kem_context.insert(kem_context.end(), pkSm.begin(), pkSm.end());
  }
  auto shared_secret = ExtractAndExpand(pkR.kem(), dh.Reveal(), kem_context);
  if (!shared_secret.ok()) return shared_secret.status();
  return EncapResult{*std::move(shared_secret), enc};
}

absl::StatusOr<SecretBytes> Decap(std::span<const uint8_t> enc, const PrivateKey& skR,
                                  const PublicKey* pkS) {
  absl::StatusOr<SecretBytes> dh_e;
  if (skR.kem() == Kem::kDhkemP256HkdfSha256) {
    // The point is decoded and checked for the multiplication only: no key
    // object is built for a point used once.
    dh_e = P256Dh(skR.p256_scalar(), enc, "enc");
  } else {
    auto pkE = PublicKey::Create(skR.kem(), enc, "enc");
    if (!pkE.ok()) return pkE.status();
    dh_e = Dh(skR, *pkE, "enc");
  }
  if (!dh_e.ok()) return dh_e.status();
  absl::StatusOr<SecretBytes> dh_s;
  if (pkS != nullptr) {
    dh_s = Dh(skR, *pkS, "sender_public_key");
    if (!dh_s.ok()) return dh_s.status();
  }
  SecretBytes dh = Concat(*std::move(dh_e), pkS == nullptr ? nullptr : &*dh_s);

  const Bytes& pkRm = skR.public_key().Serialize();
  Bytes kem_context(enc.begin(), enc.end());
  kem_context.insert(kem_context.end(), pkRm.begin(), pkRm.end());
  if (pkS != nullptr) {
    const Bytes& pkSm = pkS->Serialize();
    kem_context.insert(kem_context.end(), pkSm.begin(), pkSm.end());
  }
  return ExtractAndExpand(skR.kem(), dh.Reveal(), kem_context);
}

}  // namespace strongroom::kms::hpke::internal
