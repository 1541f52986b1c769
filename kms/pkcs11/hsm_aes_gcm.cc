// AES-GCM through the HSM: caller-chosen 96-bit IV, 128-bit tag, ct||tag.
#include "absl/strings/string_view.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "kms/pkcs11/errors.h"
#include "kms/pkcs11/hsm.h"

namespace strongroom::kms::pkcs11 {
namespace {

constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;

absl::Status CheckGcmInputs(const KeyHandle& key, std::span<const uint8_t> iv) {
  if (key.kind != KeyKind::kAes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM needs an AES key, key '", key.label, "' is ", KeyKindName(key.kind)));
  }
  if (iv.size() != kIvBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-GCM iv must be 12 bytes, got ", iv.size()));
  }
  return absl::OkStatus();
}

CK_GCM_PARAMS GcmParams(std::span<const uint8_t> iv, std::span<const uint8_t> aad) {
  CK_GCM_PARAMS p;
  p.pIv = const_cast<uint8_t*>(iv.data());
  p.ulIvLen = iv.size();
  p.ulIvBits = iv.size() * 8;
  p.pAAD = const_cast<uint8_t*>(aad.data());
  p.ulAADLen = aad.size();
  p.ulTagBits = kTagBytes * 8;
  return p;
}

}  // namespace

absl::StatusOr<Bytes> Hsm::AesGcmEncrypt(const KeyHandle& key, std::span<const uint8_t> iv,
                                         std::span<const uint8_t> aad,
                                         std::span<const uint8_t> plaintext) {
  RETURN_IF_ERROR(CheckGcmInputs(key, iv));
  Bytes out(plaintext.size() + kTagBytes);
  RETURN_IF_ERROR(Run("AesGcmEncrypt", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, key));
    CK_GCM_PARAMS params = GcmParams(iv, aad);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    RETURN_IF_ERROR(RvToStatus("C_EncryptInit", s.fn->C_EncryptInit(s.handle, &mech, handle),
                               absl::StrCat("key '", key.label, "'")));
    CK_ULONG out_len = out.size();
    // Modules reject a NULL input pointer even for an empty message.
    uint8_t empty = 0;
    uint8_t* in = plaintext.empty() ? &empty : const_cast<uint8_t*>(plaintext.data());
    CK_RV rv = s.fn->C_Encrypt(s.handle, in,
                               plaintext.size(), out.data(), &out_len);
    RETURN_IF_ERROR(RvToStatus("C_Encrypt", rv, absl::StrCat("key '", key.label, "'")));
    out.resize(out_len);
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<SecretBytes> Hsm::AesGcmDecrypt(const KeyHandle& key,
                                               std::span<const uint8_t> iv,
                                               std::span<const uint8_t> aad,
                                               std::span<const uint8_t> ciphertext_and_tag) {
  RETURN_IF_ERROR(CheckGcmInputs(key, iv));
  if (ciphertext_and_tag.size() < kTagBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-GCM ciphertext is ", ciphertext_and_tag.size(),
        " bytes, shorter than the 16-byte tag"));
  }
  // SoftHSM (and the spec's single-part rules) want room for the whole input.
  SecretBytes out(ciphertext_and_tag.size());
  RETURN_IF_ERROR(Run("AesGcmDecrypt", [&](Session& s) -> absl::Status {
    ASSIGN_OR_RETURN(CK_OBJECT_HANDLE handle, Resolve(s, key));
    CK_GCM_PARAMS params = GcmParams(iv, aad);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    RETURN_IF_ERROR(RvToStatus("C_DecryptInit", s.fn->C_DecryptInit(s.handle, &mech, handle),
                               absl::StrCat("key '", key.label, "'")));
    CK_ULONG out_len = out.size();
    CK_RV rv = s.fn->C_Decrypt(s.handle, const_cast<uint8_t*>(ciphertext_and_tag.data()),
                               ciphertext_and_tag.size(), out.RevealMutable().data(), &out_len);
    RETURN_IF_ERROR(IntegrityFailureToStatus("C_Decrypt", rv, "ciphertext, tag, iv or aad"));
    out.Shrink(out_len);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace strongroom::kms::pkcs11
