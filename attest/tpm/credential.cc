#include "attest/tpm/credential.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "attest/tpm/tpm_wire.h"
#include "base/status_macros.h"

namespace strongroom::attest {
namespace {

using tpm_wire::PutBytes;
using tpm_wire::PutSized;
using tpm_wire::PutU16;
using tpm_wire::PutU32;

constexpr char kIdentityLabel[] = "IDENTITY";

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("TPM2_MakeCredential: ", why));
}

absl::Status Internal(absl::string_view call) {
  ERR_clear_error();
  return absl::InternalError(
      absl::StrCat("TPM2_MakeCredential: ", call, " failed"));
}

const EVP_CIPHER* CfbCipher(uint16_t bits) {
  switch (bits) {
    case 128:
      return EVP_aes_128_cfb128();
    case 192:
      return EVP_aes_192_cfb128();
    case 256:
      return EVP_aes_256_cfb128();
    default:
      return nullptr;
  }
}

// RSA EK: a random seed, OAEP-encrypted with the "IDENTITY" label.
absl::Status RsaSeed(const TpmtPublic& ek, SecretBytes& seed, Bytes& secret) {
  ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> key, TpmPublicKey(ek));
  const EVP_MD* md = TpmHashMd(ek.name_alg);
  seed = SecretBytes::Random(TpmHashSize(ek.name_alg));
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr),
      EVP_PKEY_CTX_free);
  // The label includes its terminating zero (Part 1, "Secret Sharing").
  void* label = OPENSSL_memdup(kIdentityLabel, sizeof(kIdentityLabel));
  size_t out_len = 0;
  if (ctx == nullptr || label == nullptr ||
      EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) != 1) {
    OPENSSL_free(label);
    return Internal("RSA-OAEP setup");
  }
  if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label,
                                       sizeof(kIdentityLabel)) != 1) {
    OPENSSL_free(label);
    return Internal("RSA-OAEP label");
  }
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &out_len, seed.Reveal().data(),
                       seed.size()) != 1) {
    return Internal("RSA-OAEP size");
  }
  secret.resize(out_len);
  if (EVP_PKEY_encrypt(ctx.get(), secret.data(), &out_len,
                       seed.Reveal().data(), seed.size()) != 1) {
    return Internal("RSA-OAEP encrypt");
  }
  secret.resize(out_len);
  return absl::OkStatus();
}

absl::StatusOr<Bytes> BnParam(EVP_PKEY* key, const char* name, size_t size) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    return Internal("EC public coordinate");
  }
  Bytes out(size);
  int ok = BN_bn2binpad(bn, out.data(), static_cast<int>(size));
  BN_free(bn);
  if (ok < 0) return Internal("EC coordinate encoding");
  return out;
}

// ECC EK: one-pass ECDH with an ephemeral key, seed = KDFe(Z, "IDENTITY",
// ephemeral.x, EK.x); the secret is the ephemeral point.
absl::Status EccSeed(const TpmtPublic& ek, SecretBytes& seed, Bytes& secret) {
  const char* group = nullptr;
  size_t coord = 0;
  if (ek.ecc_curve == kTpmEccNistP256) {
    group = "P-256";
    coord = 32;
  } else if (ek.ecc_curve == kTpmEccNistP384) {
    group = "P-384";
    coord = 48;
  } else {
    return Bad("EK curve is not NIST P-256 or P-384");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<EVP_PKEY> ek_key, TpmPublicKey(ek));
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> eph(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group), EVP_PKEY_free);
  if (eph == nullptr) return Internal("ephemeral EC key generation");
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_pkey(nullptr, eph.get(), nullptr),
      EVP_PKEY_CTX_free);
  SecretBytes z(coord);
  size_t z_len = z.size();
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), ek_key.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), z.RevealMutable().data(), &z_len) != 1 ||
      z_len != coord) {
    return Internal("ECDH");
  }
  ASSIGN_OR_RETURN(Bytes x, BnParam(eph.get(), OSSL_PKEY_PARAM_EC_PUB_X, coord));
  ASSIGN_OR_RETURN(Bytes y, BnParam(eph.get(), OSSL_PKEY_PARAM_EC_PUB_Y, coord));
  ASSIGN_OR_RETURN(seed, TpmKdfe(ek.name_alg, z.Reveal(), kIdentityLabel, x,
                                 ek.ecc_x, TpmHashSize(ek.name_alg) * 8));
  secret.clear();
  PutSized(secret, x);
  PutSized(secret, y);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SecretBytes> TpmKdfa(uint16_t hash_alg,
                                    std::span<const uint8_t> key,
                                    absl::string_view label,
                                    std::span<const uint8_t> context_u,
                                    std::span<const uint8_t> context_v,
                                    size_t bits) {
  const EVP_MD* md = TpmHashMd(hash_alg);
  if (md == nullptr || bits == 0 || bits % 8 != 0 || bits > 1u << 16) {
    return absl::InvalidArgumentError("KDFa: unsupported hash or length");
  }
  SecretBytes out(bits / 8);
  uint8_t block[EVP_MAX_MD_SIZE];
  size_t done = 0;
  for (uint32_t counter = 1; done < out.size(); ++counter) {
    Bytes msg;
    PutU32(msg, counter);
    PutBytes(msg, AsBytes(label));
    msg.push_back(0);
    PutBytes(msg, context_u);
    PutBytes(msg, context_v);
    PutU32(msg, static_cast<uint32_t>(bits));
    unsigned int len = 0;
    if (HMAC(md, key.data(), static_cast<int>(key.size()), msg.data(),
             msg.size(), block, &len) == nullptr) {
      OPENSSL_cleanse(block, sizeof(block));
      ERR_clear_error();
      return absl::InternalError("KDFa: HMAC failed");
    }
    size_t take = std::min<size_t>(len, out.size() - done);
    std::copy_n(block, take, out.RevealMutable().begin() + done);
    done += take;
  }
  OPENSSL_cleanse(block, sizeof(block));
  return out;
}

absl::StatusOr<SecretBytes> TpmKdfe(uint16_t hash_alg,
                                    std::span<const uint8_t> z,
                                    absl::string_view label,
                                    std::span<const uint8_t> party_u,
                                    std::span<const uint8_t> party_v,
                                    size_t bits) {
  const EVP_MD* md = TpmHashMd(hash_alg);
  if (md == nullptr || bits == 0 || bits % 8 != 0 || bits > 1u << 16) {
    return absl::InvalidArgumentError("KDFe: unsupported hash or length");
  }
  SecretBytes out(bits / 8);
  uint8_t block[EVP_MAX_MD_SIZE];
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(
      EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t done = 0;
  const uint8_t zero = 0;
  for (uint32_t counter = 1; done < out.size(); ++counter) {
    Bytes prefix;
    PutU32(prefix, counter);
    unsigned int len = 0;
    bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1 &&
              EVP_DigestUpdate(ctx.get(), prefix.data(), prefix.size()) == 1 &&
              EVP_DigestUpdate(ctx.get(), z.data(), z.size()) == 1 &&
              EVP_DigestUpdate(ctx.get(), label.data(), label.size()) == 1 &&
              EVP_DigestUpdate(ctx.get(), &zero, 1) == 1 &&
              EVP_DigestUpdate(ctx.get(), party_u.data(), party_u.size()) ==
                  1 &&
              EVP_DigestUpdate(ctx.get(), party_v.data(), party_v.size()) ==
                  1 &&
              EVP_DigestFinal_ex(ctx.get(), block, &len) == 1;
    if (!ok) {
      OPENSSL_cleanse(block, sizeof(block));
      ERR_clear_error();
      return absl::InternalError("KDFe: digest failed");
    }
    size_t take = std::min<size_t>(len, out.size() - done);
    std::copy_n(block, take, out.RevealMutable().begin() + done);
    done += take;
  }
  OPENSSL_cleanse(block, sizeof(block));
  return out;
}

absl::StatusOr<TpmMadeCredential> TpmMakeCredential(
    const TpmtPublic& ek, std::span<const uint8_t> object_name,
    const SecretBytes& credential) {
  uint32_t need = kTpmaRestricted | kTpmaDecrypt;
  if ((ek.object_attributes & need) != need ||
      (ek.object_attributes & kTpmaSign)) {
    return Bad("EK is not a restricted decryption key");
  }
  const EVP_CIPHER* cipher = CfbCipher(ek.symmetric_key_bits);
  if (ek.symmetric_alg != kTpmAlgAes || ek.symmetric_mode != kTpmAlgCfb ||
      cipher == nullptr) {
    return Bad("EK symmetric definition is not AES-CFB");
  }
  const EVP_MD* md = TpmHashMd(ek.name_alg);
  size_t digest_size = TpmHashSize(ek.name_alg);
  if (md == nullptr) return Bad("EK nameAlg is not a supported hash");
  if (credential.empty() || credential.size() > digest_size) {
    return Bad(absl::StrCat("credential of ", credential.size(),
                            " bytes (want 1..", digest_size, ")"));
  }
  if (object_name.size() < 2 + 20) return Bad("object name too short");

  SecretBytes seed;
  Bytes secret;
  if (ek.type == kTpmAlgRsa) {
    RETURN_IF_ERROR(RsaSeed(ek, seed, secret));
  } else {
    RETURN_IF_ERROR(EccSeed(ek, seed, secret));
  }
  ASSIGN_OR_RETURN(SecretBytes sym_key,
                   TpmKdfa(ek.name_alg, seed.Reveal(), "STORAGE", object_name,
                           {}, ek.symmetric_key_bits));
  ASSIGN_OR_RETURN(SecretBytes hmac_key,
                   TpmKdfa(ek.name_alg, seed.Reveal(), "INTEGRITY", {}, {},
                           digest_size * 8));

  // encIdentity = CFB(TPM2B_DIGEST credential), IV all zero.
  SecretBytes plain(2 + credential.size());
  plain.RevealMutable()[0] = static_cast<uint8_t>(credential.size() >> 8);
  plain.RevealMutable()[1] = static_cast<uint8_t>(credential.size());
  std::copy(credential.Reveal().begin(), credential.Reveal().end(),
            plain.RevealMutable().begin() + 2);
  Bytes enc_identity(plain.size());
  uint8_t iv[16] = {0};
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> cctx(
      EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int out_len = 0, final_len = 0;
  if (cctx == nullptr ||
      EVP_EncryptInit_ex(cctx.get(), cipher, nullptr,
                         sym_key.Reveal().data(), iv) != 1 ||
      EVP_EncryptUpdate(cctx.get(), enc_identity.data(), &out_len,
                        plain.Reveal().data(),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(cctx.get(), enc_identity.data() + out_len,
                          &final_len) != 1 ||
      static_cast<size_t>(out_len + final_len) != plain.size()) {
    return Internal("AES-CFB");
  }

  Bytes mac_input = enc_identity;
  PutBytes(mac_input, object_name);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(md, hmac_key.Reveal().data(), static_cast<int>(hmac_key.size()),
           mac_input.data(), mac_input.size(), mac, &mac_len) == nullptr) {
    return Internal("HMAC");
  }

  TpmMadeCredential out;
  PutU16(out.credential_blob,
         static_cast<uint16_t>(2 + mac_len + enc_identity.size()));
  PutSized(out.credential_blob, {mac, mac_len});
  PutBytes(out.credential_blob, enc_identity);
  PutSized(out.encrypted_secret, secret);
  return out;
}

}  // namespace strongroom::attest
