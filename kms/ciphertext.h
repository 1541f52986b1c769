// The self-describing ciphertext produced by KeyManagement.Encrypt and
// GenerateDataKey (documented byte by byte in docs/kms.md):
//
//   "SRC1" | format u8 (=1) | algorithm u8 (1 = AES-256-GCM) |
//   key_id_len u8 | key_id | version u32be | iv[12] | ciphertext || tag[16]
//
// The AAD of the AEAD is the header (everything before the IV) followed by
// the canonical encoding of the encryption context, so neither can be changed
// without failing authentication. Parsing never crashes: every defect gets an
// InvalidArgument naming the field ("ciphertext.key_id_len: 70 exceeds ...").
#ifndef STRONGROOM_KMS_CIPHERTEXT_H_
#define STRONGROOM_KMS_CIPHERTEXT_H_

#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "base/bytes.h"

namespace strongroom::kms {

inline constexpr uint8_t kCiphertextFormatV1 = 1;
inline constexpr uint8_t kAlgorithmAes256Gcm = 1;
inline constexpr size_t kGcmIvBytes = 12;
inline constexpr size_t kGcmTagBytes = 16;

struct CiphertextHeader {
  std::string key_id;
  uint32_t version = 0;
  uint8_t algorithm = kAlgorithmAes256Gcm;
};

struct ParsedCiphertext {
  CiphertextHeader header;
  Bytes header_bytes;  // the encoded header, part of the AAD
  Bytes iv;
  Bytes sealed;        // ciphertext || tag
};

Bytes EncodeHeader(const CiphertextHeader& header);
absl::StatusOr<ParsedCiphertext> ParseCiphertext(std::span<const uint8_t> blob);

// header bytes || canonical(context): entries sorted by key, each as
// u32be(len) key u32be(len) value. InvalidArgument for empty keys.
absl::StatusOr<Bytes> BuildAad(std::span<const uint8_t> header_bytes,
                               const std::map<std::string, std::string>& context);

}  // namespace strongroom::kms

#endif  // STRONGROOM_KMS_CIPHERTEXT_H_
