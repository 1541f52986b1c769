#include "kms/aead.h"

#include <memory>

#include <openssl/evp.h>

#include "absl/strings/str_cat.h"

namespace strongroom::kms {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const EVP_CIPHER* CipherFor(size_t key_bytes) {
  switch (key_bytes) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return nullptr;
  }
}

}  // namespace

absl::StatusOr<Bytes> AesGcmSeal(const SecretBytes& key, std::span<const uint8_t> iv,
                                 std::span<const uint8_t> aad,
                                 std::span<const uint8_t> plaintext) {
  const EVP_CIPHER* cipher = CipherFor(key.size());
  if (cipher == nullptr || iv.size() != 12) {
    return absl::InvalidArgumentError("AES-GCM needs a 16/24/32-byte key and a 12-byte iv");
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  Bytes out(plaintext.size() + 16);
  int len = 0, total = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, key.Reveal().data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1) {
    return absl::InternalError("AES-GCM encryption failed");
  }
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), out.data() + total, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + total + len) != 1) {
    return absl::InternalError("AES-GCM encryption failed");
  }
  out.resize(total + len + 16);
  return out;
}

absl::StatusOr<SecretBytes> AesGcmOpen(const SecretBytes& key, std::span<const uint8_t> iv,
                                       std::span<const uint8_t> aad,
                                       std::span<const uint8_t> sealed) {
  const EVP_CIPHER* cipher = CipherFor(key.size());
  if (cipher == nullptr || iv.size() != 12) {
    return absl::InvalidArgumentError("AES-GCM needs a 16/24/32-byte key and a 12-byte iv");
  }
  if (sealed.size() < 16) {
    return absl::InvalidArgumentError("ciphertext is shorter than the 16-byte tag");
  }
  size_t ct_len = sealed.size() - 16;
  SecretBytes out(ct_len == 0 ? 1 : ct_len);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, key.Reveal().data(), iv.data()) != 1 ||
      (!aad.empty() &&
       EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())) != 1) ||
      EVP_DecryptUpdate(ctx.get(), out.RevealMutable().data(), &len, sealed.data(),
                        static_cast<int>(ct_len)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16,
                          const_cast<uint8_t*>(sealed.data() + ct_len)) != 1) {
    return absl::InternalError("AES-GCM decryption failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.RevealMutable().data() + len, &final_len) != 1) {
    return absl::InvalidArgumentError("ciphertext or encryption_context does not authenticate");
  }
  out.Shrink(ct_len);
  return out;
}

}  // namespace strongroom::kms
