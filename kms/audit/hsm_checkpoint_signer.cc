#include "kms/audit/hsm_checkpoint_signer.h"

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/status_macros.h"

namespace strongroom::kms {

absl::StatusOr<std::unique_ptr<HsmCheckpointSigner>> HsmCheckpointSigner::Create(
    pkcs11::Hsm& hsm, absl::string_view label) {
  absl::StatusOr<pkcs11::KeyHandle> priv = hsm.FindKey(pkcs11::KeyKind::kEcPrivate, label);
  absl::StatusOr<pkcs11::KeyHandle> pub = hsm.FindKey(pkcs11::KeyKind::kEcPublic, label);
  for (const absl::StatusOr<pkcs11::KeyHandle>* found : {&priv, &pub}) {
    if (!found->ok() && !absl::IsNotFound(found->status())) return found->status();
  }
  pkcs11::KeyHandle private_key;
  Bytes point;
  if (priv.ok() && pub.ok()) {
    if (priv->id != pub->id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "audit checkpoint key '", label, "': private key CKA_ID ", HexEncode(priv->id),
          " does not match public key CKA_ID ", HexEncode(pub->id)));
    }
    private_key = *priv;
    ASSIGN_OR_RETURN(point, hsm.GetEcPublicPoint(*pub));
  } else if (priv.ok() || pub.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "audit checkpoint key '", label, "': the token holds only the ",
        priv.ok() ? "private" : "public", " half of the key pair"));
  } else {
    pkcs11::KeyOptions options;
    options.label = std::string(label);
    options.persistent = true;
    options.usage = pkcs11::kUsageSign | pkcs11::kUsageVerify;
    ASSIGN_OR_RETURN(pkcs11::EcKeyPair pair,
                     hsm.GenerateEcKeyPair(pkcs11::EcCurve::kP256, options));
    private_key = pair.private_key;
    point = pair.public_point;
    LogInfo("audit.checkpoint_key_created", {{"label", std::string(label)}});
  }
  ASSIGN_OR_RETURN(CheckpointVerifyKey public_key, CheckpointVerifyKey::FromPoint(point));
  return std::unique_ptr<HsmCheckpointSigner>(
      new HsmCheckpointSigner(hsm, std::move(private_key), std::move(public_key)));
}

absl::StatusOr<Bytes> HsmCheckpointSigner::Sign(std::span<const uint8_t> msg) {
  ASSIGN_OR_RETURN(Bytes der, hsm_.EcdsaSign(private_key_, pkcs11::HashAlg::kSha256, msg));
  if (absl::Status s = public_key_.Verify(msg, der); !s.ok()) {
    return absl::InternalError(absl::StrCat("audit checkpoint key '", private_key_.label,
                                            "': the HSM returned a signature that does not "
                                            "verify under its public key ",
                                            public_key_.key_id()));
  }
  return der;
}

absl::StatusOr<SecretBytes> DeriveAuditHeadMacKey(pkcs11::Hsm& hsm, absl::string_view label) {
  absl::StatusOr<pkcs11::KeyHandle> key = hsm.FindKey(pkcs11::KeyKind::kAes, label);
  if (absl::IsNotFound(key.status())) {
    pkcs11::KeyOptions options;
    options.label = std::string(label);
    options.persistent = true;
    options.usage = pkcs11::kUsageEncrypt;
    key = hsm.GenerateAesKey(32, options);
    if (key.ok()) LogInfo("audit.head_mac_key_created", {{"label", std::string(label)}});
  }
  RETURN_IF_ERROR(key.status());
  if (key->aes_key_bytes != 32) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit head MAC key '", label, "': the token's key is ", key->aes_key_bytes,
                     " bytes, not an AES-256 key made by strongroomd; remove or relabel it"));
  }
  static constexpr uint8_t kIv[12] = {};
  static constexpr uint8_t kZeros[32] = {};
  static constexpr char kAad[] = "strongroom audit head MAC key v1";
  ASSIGN_OR_RETURN(
      Bytes out, hsm.AesGcmEncrypt(*key, kIv,
                                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kAad),
                                                            sizeof(kAad) - 1),
                                   kZeros));
  if (out.size() < 32) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InternalError(
        absl::StrCat("audit head MAC key '", label, "': the HSM returned ", out.size(), " bytes"));
  }
  SecretBytes k = SecretBytes::CopyFrom(std::span<const uint8_t>(out.data(), 32));
  OPENSSL_cleanse(out.data(), out.size());
  return k;
}

}  // namespace strongroom::kms
