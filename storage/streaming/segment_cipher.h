// SegmentCipher: the per-object key and the AES-GCM operation on one segment
// of the streaming AEAD (see streaming_aead_params.h for the layout). Also
// encodes and parses the stream header. Internal to storage/streaming; the
// writer and the readers are the public API.
//
// Create() derives the object key with HKDF from the caller's key, the salt
// and the associated data, and keeps only the AES key schedule (in an
// OpenSSL context, freed with the object). Decryption failures of a segment
// are DataLoss naming the segment number; the output buffer is wiped before
// returning one, so unauthenticated plaintext never leaves the call.
//
// Thread-compatible: one object per stream, used by one thread at a time.
#ifndef STRONGROOM_STORAGE_STREAMING_SEGMENT_CIPHER_H_
#define STRONGROOM_STORAGE_STREAMING_SEGMENT_CIPHER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "storage/streaming/streaming_aead_params.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace strongroom::storage {

// The public values carried in a stream header.
struct StreamHeader {
  Bytes salt;          // derived_key_size bytes
  Bytes nonce_prefix;  // 7 bytes
};

// header_size || salt || nonce_prefix.
Bytes EncodeStreamHeader(std::span<const uint8_t> salt,
                         std::span<const uint8_t> nonce_prefix);

// `header` must be exactly params.header_size() bytes (the caller reads that
// many). InvalidArgument naming "header length byte" when its first byte is
// not the header size these parameters imply.
absl::StatusOr<StreamHeader> ParseStreamHeader(
    const StreamingAeadParams& params, std::span<const uint8_t> header);

class SegmentCipher {
 public:
  enum class Direction { kEncrypt, kDecrypt };

  // `params` must have passed ValidateWithKeySize(key.size()); `salt` and
  // `nonce_prefix` must have their header sizes.
  static absl::StatusOr<std::unique_ptr<SegmentCipher>> Create(
      Direction direction, const StreamingAeadParams& params,
      const SecretBytes& key, std::span<const uint8_t> salt,
      std::span<const uint8_t> nonce_prefix,
      std::span<const uint8_t> associated_data);
  ~SegmentCipher();
  // A second cipher with the same key schedule and nonce prefix, for another
  // thread (this object is not thread-safe; the copy is independent).
  absl::StatusOr<std::unique_ptr<SegmentCipher>> Clone() const;
  SegmentCipher(const SegmentCipher&) = delete;
  SegmentCipher& operator=(const SegmentCipher&) = delete;

  // Encrypts `plaintext` as segment `segment`; out.size() must be
  // plaintext.size() + 16. OutOfRange past the 2^32-segment limit.
  absl::Status Encrypt(uint64_t segment, bool last,
                       std::span<const uint8_t> plaintext,
                       std::span<uint8_t> out);

  // Decrypts and authenticates segment `segment`; out.size() must be
  // ciphertext.size() - 16. DataLoss("segment N: ciphertext does not
  // authenticate") when the tag does not verify.
  absl::Status Decrypt(uint64_t segment, bool last,
                       std::span<const uint8_t> ciphertext,
                       std::span<uint8_t> out);

  // Decrypt(), and on failure a diagnosis for the reader's error message:
  // a full-size segment read as the last one that authenticates as a middle
  // one means the stream was truncated; a segment read as a middle one that
  // authenticates as the last one means bytes follow the end of the stream.
  // Both are DataLoss naming what happened and the segment.
  absl::Status DecryptAndDiagnose(uint64_t segment, bool last, bool full_size,
                                  std::span<const uint8_t> ciphertext,
                                  std::span<uint8_t> out);

 private:
  SegmentCipher(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> nonce_prefix);
  std::array<uint8_t, kStreamingAeadNonceSize> Nonce(uint64_t segment,
                                                     bool last) const;

  EVP_CIPHER_CTX* ctx_;
  std::array<uint8_t, kStreamingAeadNoncePrefixSize> nonce_prefix_;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_SEGMENT_CIPHER_H_
