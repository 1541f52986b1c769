// SealedHeader: the header of a sealed object (docs/sealed-format.md).
//
// A sealed object is `sealed header || segments`, where the segments and the
// stream header embedded at the end of the sealed header form one Tink
// AES-GCM-HKDF streaming AEAD stream (storage/streaming, ciphertext_offset
// 0). The sealed header says how to get the data key (the KMS key, its
// version and the data key wrapped by the KMS), how the stream is cut into
// segments and which object it is (dataset, name, version).
//
// Authentication: every field is covered by one of
//  - the streaming AEAD's associated data (AssociatedData(): format version,
//    stream parameters, key name, dataset, name, version), which feeds the
//    HKDF of the per-object key, so any change makes segment 0 fail;
//  - the KMS ciphertext of the wrapped data key (its own header names the key
//    version, and DataKeyContext() binds dataset, name and version);
//  - the stream header (salt and nonce prefix feed the key and every nonce).
// The wrapped key and the key version are deliberately not in the associated
// data: re-wrapping after a KMS rotation replaces them without touching any
// segment.
//
// Parsing never crashes on hostile input: every defect is InvalidArgument
// naming the field ("sealed header.format_version: 2 is not supported ...").
// Value types; thread-compatible.
#ifndef STRONGROOM_STORAGE_SEALED_SEALED_HEADER_H_
#define STRONGROOM_STORAGE_SEALED_SEALED_HEADER_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/bytes.h"
#include "storage/streaming/streaming_aead_params.h"

namespace strongroom::storage::sealed {

inline constexpr char kSealedMagic[] = "SRSO";  // 4 bytes, no terminator stored
inline constexpr uint8_t kSealedFormatV1 = 1;
inline constexpr size_t kSealedFixedPrefix = 8;  // magic, version, flags, length
inline constexpr size_t kMaxSealedHeaderSize = 4096;
inline constexpr size_t kMaxWrappedKeySize = 1024;

struct SealedHeader {
  uint8_t format_version = kSealedFormatV1;
  storage::StreamingAeadParams params;  // ciphertext_offset is always 0
  std::string key_name;                 // keys/{key}
  uint32_t key_version = 0;             // the version that wraps the data key
  Bytes wrapped_key;                    // KMS ciphertext (SRC1) of the data key
  std::string dataset;                  // dataset id
  std::string name;                     // object name
  uint64_t version = 0;                 // object version (>= 1)
  Bytes stream_header;                  // Tink stream header: size byte, salt, nonce prefix

  // The encoded header; REQUIRES: the fields pass Validate().
  Bytes Encode() const;
  // InvalidArgument naming the field that is out of range.
  absl::Status Validate() const;
  size_t EncodedSize() const;
};

// Parses a header that must span all of `bytes`.
absl::StatusOr<SealedHeader> ParseSealedHeader(std::span<const uint8_t> bytes);
// The length a header announces in its first 8 bytes (for framing a sealed
// object file); InvalidArgument for a bad magic or version.
absl::StatusOr<size_t> PeekSealedHeaderSize(std::span<const uint8_t> prefix);

// The streaming AEAD's associated data for `h` (see above).
Bytes AssociatedData(const SealedHeader& h);

// The KMS encryption context of the wrapped data key.
std::map<std::string, std::string> DataKeyContext(absl::string_view dataset, absl::string_view name,
                                                  uint64_t version);

// The public header of a KMS ciphertext ("SRC1", docs/kms.md): which key and
// version wrapped it. InvalidArgument naming `field` for anything that is not
// a well-formed SRC1 ciphertext of a 16..64-byte secret.
struct WrappedKeyReference {
  std::string key_id;
  uint32_t version = 0;
};
absl::StatusOr<WrappedKeyReference> ParseWrappedKeyReference(std::span<const uint8_t> wrapped,
                                                             absl::string_view field);

}  // namespace strongroom::storage::sealed

#endif  // STRONGROOM_STORAGE_SEALED_SEALED_HEADER_H_
