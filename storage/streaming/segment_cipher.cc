#include "storage/streaming/segment_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "storage/streaming/hkdf.h"

namespace strongroom::storage {
namespace {

constexpr uint64_t kLastSegmentNumber = kStreamingAeadMaxSegments - 1;

absl::Status SegmentNumberCheck(uint64_t segment, bool last,
                                absl::StatusCode code) {
  if (segment > kLastSegmentNumber ||
      (segment == kLastSegmentNumber && !last)) {
    return absl::Status(
        code, absl::StrCat("segment ", segment,
                           ": the format allows at most 2^32 segments"));
  }
  return absl::OkStatus();
}

absl::Status AuthFailure(uint64_t segment) {
  return absl::DataLossError(
      absl::StrCat("segment ", segment, ": ciphertext does not authenticate"));
}

}  // namespace

Bytes EncodeStreamHeader(std::span<const uint8_t> salt,
                         std::span<const uint8_t> nonce_prefix) {
  Bytes header;
  header.reserve(1 + salt.size() + nonce_prefix.size());
  header.push_back(static_cast<uint8_t>(1 + salt.size() + nonce_prefix.size()));
  header.insert(header.end(), salt.begin(), salt.end());
  header.insert(header.end(), nonce_prefix.begin(), nonce_prefix.end());
  return header;
}

absl::StatusOr<StreamHeader> ParseStreamHeader(
    const StreamingAeadParams& params, std::span<const uint8_t> header) {
  const size_t size = params.header_size();
  if (header.size() != size) {
    return absl::InvalidArgumentError(
        absl::StrCat("header: ", header.size(), " bytes, expected ", size));
  }
  if (header[0] != size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header length byte: ", static_cast<int>(header[0]), ", expected ",
        size, " for derived_key_size ", params.derived_key_size));
  }
  StreamHeader h;
  h.salt.assign(header.begin() + 1,
                header.begin() + 1 + params.derived_key_size);
  h.nonce_prefix.assign(header.begin() + 1 + params.derived_key_size,
                        header.end());
  return h;
}

absl::StatusOr<std::unique_ptr<SegmentCipher>> SegmentCipher::Create(
    Direction direction, const StreamingAeadParams& params,
    const SecretBytes& key, std::span<const uint8_t> salt,
    std::span<const uint8_t> nonce_prefix,
    std::span<const uint8_t> associated_data) {
  if (salt.size() != params.derived_key_size ||
      nonce_prefix.size() != kStreamingAeadNoncePrefixSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "salt/nonce_prefix: ", salt.size(), "/", nonce_prefix.size(),
        " bytes, expected ", params.derived_key_size, "/",
        kStreamingAeadNoncePrefixSize));
  }
  absl::StatusOr<SecretBytes> object_key =
      Hkdf(params.hkdf_hash, key.Reveal(), salt, associated_data,
           params.derived_key_size);
  if (!object_key.ok()) return object_key.status();

  const EVP_CIPHER* cipher =
      params.derived_key_size == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) {
    return absl::InternalError("segment cipher: EVP_CIPHER_CTX_new failed");
  }
  // The nonce is set per segment; the default GCM IV length is 12 bytes.
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, object_key->Reveal().data(),
                        nullptr,
                        direction == Direction::kEncrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return absl::InternalError("segment cipher: EVP_CipherInit_ex failed");
  }
  return std::unique_ptr<SegmentCipher>(new SegmentCipher(ctx, nonce_prefix));
}

SegmentCipher::SegmentCipher(EVP_CIPHER_CTX* ctx,
                             std::span<const uint8_t> nonce_prefix)
    : ctx_(ctx) {
  std::copy(nonce_prefix.begin(), nonce_prefix.end(), nonce_prefix_.begin());
}

SegmentCipher::~SegmentCipher() { EVP_CIPHER_CTX_free(ctx_); }  // wipes keys

absl::StatusOr<std::unique_ptr<SegmentCipher>> SegmentCipher::Clone() const {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr || EVP_CIPHER_CTX_copy(ctx, ctx_) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return absl::InternalError("segment cipher: EVP_CIPHER_CTX_copy failed");
  }
  return std::unique_ptr<SegmentCipher>(new SegmentCipher(ctx, nonce_prefix_));
}

std::array<uint8_t, kStreamingAeadNonceSize> SegmentCipher::Nonce(
    uint64_t segment, bool last) const {
  std::array<uint8_t, kStreamingAeadNonceSize> nonce{};
  std::copy(nonce_prefix_.begin(), nonce_prefix_.end(), nonce.begin());
  const uint32_t n = static_cast<uint32_t>(segment);
  nonce[7] = static_cast<uint8_t>(n >> 24);
  nonce[8] = static_cast<uint8_t>(n >> 16);
  nonce[9] = static_cast<uint8_t>(n >> 8);
  nonce[10] = static_cast<uint8_t>(n);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

absl::Status SegmentCipher::Encrypt(uint64_t segment, bool last,
                                    std::span<const uint8_t> plaintext,
                                    std::span<uint8_t> out) {
  if (absl::Status s =
          SegmentNumberCheck(segment, last, absl::StatusCode::kOutOfRange);
      !s.ok()) {
    return s;
  }
  if (out.size() != plaintext.size() + kStreamingAeadTagSize ||
      plaintext.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InternalError("segment cipher: bad encrypt buffer sizes");
  }
  const auto nonce = Nonce(segment, last);
  int len = 0;
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), -1) !=
          1 ||
      (!plaintext.empty() &&
       EVP_EncryptUpdate(ctx_, out.data(), &len, plaintext.data(),
                         static_cast<int>(plaintext.size())) != 1) ||
      EVP_EncryptFinal_ex(ctx_, out.data() + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_GET_TAG, kStreamingAeadTagSize,
                          out.data() + plaintext.size()) != 1) {
    return absl::InternalError(
        absl::StrCat("segment ", segment, ": AES-GCM encryption failed"));
  }
  return absl::OkStatus();
}

absl::Status SegmentCipher::Decrypt(uint64_t segment, bool last,
                                    std::span<const uint8_t> ciphertext,
                                    std::span<uint8_t> out) {
  if (absl::Status s =
          SegmentNumberCheck(segment, last, absl::StatusCode::kDataLoss);
      !s.ok()) {
    return s;
  }
  if (ciphertext.size() < kStreamingAeadTagSize ||
      out.size() != ciphertext.size() - kStreamingAeadTagSize ||
      out.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InternalError("segment cipher: bad decrypt buffer sizes");
  }
  const auto nonce = Nonce(segment, last);
  const size_t body = out.size();
  uint8_t tag[kStreamingAeadTagSize];
  std::copy_n(ciphertext.data() + body, kStreamingAeadTagSize, tag);
  int len = 0;
  if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), -1) !=
          1 ||
      (body > 0 && EVP_DecryptUpdate(ctx_, out.data(), &len, ciphertext.data(),
                                     static_cast<int>(body)) != 1) ||
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_GCM_SET_TAG, kStreamingAeadTagSize,
                          tag) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return absl::InternalError(
        absl::StrCat("segment ", segment, ": AES-GCM decryption failed"));
  }
  if (EVP_DecryptFinal_ex(ctx_, out.data() + len, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return AuthFailure(segment);
  }
  return absl::OkStatus();
}

absl::Status SegmentCipher::DecryptAndDiagnose(
    uint64_t segment, bool last, bool full_size,
    std::span<const uint8_t> ciphertext, std::span<uint8_t> out) {
  absl::Status status = Decrypt(segment, last, ciphertext, out);
  if (status.ok() || status.code() != absl::StatusCode::kDataLoss) {
    return status;
  }
  // Only a full-size segment can be a middle one.
  if (last && !full_size) return status;
  if (Decrypt(segment, !last, ciphertext, out).ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    if (last) {
      return absl::DataLossError(
          absl::StrCat("truncated: the stream ends after segment ", segment,
                       ", which is not its last segment"));
    }
    return absl::DataLossError(
        absl::StrCat("trailing data: segment ", segment,
                     " is the last segment but more bytes follow it"));
  }
  return status;
}

}  // namespace strongroom::storage
