// Parameters and byte layout of the segmented streaming AEAD, which is
// byte-compatible with Tink's AES-GCM-HKDF streaming AEAD
// (AesGcmHkdfStreaming). docs/object-format.md describes the format.
//
//   stream  = header || segment_0 || segment_1 || ... || segment_n
//   header  = header_size (1 byte) || salt (derived_key_size) ||
//             nonce_prefix (7)
//   key     = HKDF-<hkdf_hash>(ikm = key, salt, info = associated data,
//                              L = derived_key_size)
//   nonce_i = nonce_prefix || uint32_be(i) || (i is last ? 0x01 : 0x00)
//   segment_i = AES-GCM(key, nonce_i, plaintext_i, aad = "") (tag 16 bytes)
//
// Every segment but the last is exactly ciphertext_segment_size bytes long,
// except segment 0, which is shorter by header_size + ciphertext_offset. The
// last segment holds 0..plaintext_segment_size bytes of plaintext, and is
// never empty unless it is the only one.
//
// ciphertext_offset is Tink's: the number of bytes of the caller's own that
// precede the header in the stored object, so that segment boundaries after
// segment 0 fall on multiples of ciphertext_segment_size. The writer does not
// emit these bytes and the sequential reader does not consume them (the
// caller does); the random-access reader expects its source to start with
// them, exactly as Tink's seekable readers do.
//
// Value types; thread-compatible.
#ifndef STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_PARAMS_H_
#define STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_PARAMS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strongroom::storage {

enum class HkdfHash { kSha1, kSha256, kSha512 };

// "SHA1", "SHA256", "SHA512" (Tink's spelling); "unknown" otherwise.
absl::string_view HkdfHashName(HkdfHash hash);
// Parses the names above; InvalidArgument naming `field` and the value.
absl::StatusOr<HkdfHash> ParseHkdfHash(absl::string_view name,
                                       absl::string_view field = "hkdf_hash");

inline constexpr size_t kStreamingAeadTagSize = 16;
inline constexpr size_t kStreamingAeadNoncePrefixSize = 7;
inline constexpr size_t kStreamingAeadNonceSize = 12;
// Smallest input key Tink accepts.
inline constexpr size_t kStreamingAeadMinKeySize = 16;
// Larger segments would defeat bounded memory; Tink's templates use 4 KiB
// and 1 MiB.
inline constexpr uint32_t kStreamingAeadMaxSegmentSize = 64u << 20;
// Segment numbers are 32 bits wide in the nonce.
inline constexpr uint64_t kStreamingAeadMaxSegments = uint64_t{1} << 32;

struct StreamingAeadParams {
  HkdfHash hkdf_hash = HkdfHash::kSha256;
  // AES-GCM key size derived per object: 16 (AES-128) or 32 (AES-256).
  uint32_t derived_key_size = 32;
  // Ciphertext bytes per full segment, tag included.
  uint32_t ciphertext_segment_size = 1u << 20;
  // Caller bytes before the header (see above); Tink's ciphertext_offset.
  uint32_t ciphertext_offset = 0;

  // The accessors below assume Validate() passed.
  size_t header_size() const {
    return 1 + derived_key_size + kStreamingAeadNoncePrefixSize;
  }
  size_t plaintext_segment_size() const {
    return ciphertext_segment_size - kStreamingAeadTagSize;
  }
  size_t first_ciphertext_segment_size() const {
    return ciphertext_segment_size - ciphertext_offset - header_size();
  }
  size_t first_plaintext_segment_size() const {
    return first_ciphertext_segment_size() - kStreamingAeadTagSize;
  }

  // InvalidArgument naming the field and value when the parameters are not
  // ones Tink accepts, or when a segment exceeds kStreamingAeadMaxSegmentSize.
  absl::Status Validate() const;
  // As Validate(), and also checks the input key length (at least 16 bytes
  // and at least derived_key_size).
  absl::Status ValidateWithKeySize(size_t key_size) const;

  // Bytes the writer emits (header and segments, not ciphertext_offset) for
  // `plaintext_size` bytes of plaintext; OutOfRange past 2^32 segments.
  absl::StatusOr<uint64_t> CiphertextSize(uint64_t plaintext_size) const;
  // Number of segments for `plaintext_size` bytes of plaintext (at least 1).
  uint64_t SegmentCount(uint64_t plaintext_size) const;
};

}  // namespace strongroom::storage

#endif  // STRONGROOM_STORAGE_STREAMING_STREAMING_AEAD_PARAMS_H_
