#include "kms/ciphertext.h"

#include "absl/strings/str_cat.h"
#include "kms/resource_names.h"

namespace strongroom::kms {
namespace {

constexpr uint8_t kMagic[4] = {'S', 'R', 'C', '1'};

void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

}  // namespace

Bytes EncodeHeader(const CiphertextHeader& h) {
  Bytes out(kMagic, kMagic + 4);
  out.push_back(kCiphertextFormatV1);
  out.push_back(h.algorithm);
  out.push_back(static_cast<uint8_t>(h.key_id.size()));
  out.insert(out.end(), h.key_id.begin(), h.key_id.end());
  PutU32(out, h.version);
  return out;
}

absl::StatusOr<ParsedCiphertext> ParseCiphertext(std::span<const uint8_t> b) {
  if (b.size() < 7) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext: ", b.size(), " bytes is too short for a Strongroom ciphertext header"));
  }
  if (!std::equal(kMagic, kMagic + 4, b.begin())) {
    return absl::InvalidArgumentError("ciphertext.magic: not a Strongroom ciphertext");
  }
  if (b[4] != kCiphertextFormatV1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext.format: unknown format version ", b[4]));
  }
  if (b[5] != kAlgorithmAes256Gcm) {
    return absl::InvalidArgumentError(absl::StrCat("ciphertext.algorithm: unknown algorithm ", b[5]));
  }
  size_t id_len = b[6];
  if (id_len == 0 || id_len > 63) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext.key_id_len: ", id_len, " is outside [1, 63]"));
  }
  size_t header_len = 7 + id_len + 4;
  if (b.size() < header_len + kGcmIvBytes + kGcmTagBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext: truncated (", b.size(), " bytes, need at least ",
        header_len + kGcmIvBytes + kGcmTagBytes, ")"));
  }
  ParsedCiphertext p;
  p.header.algorithm = b[5];
  p.header.key_id.assign(reinterpret_cast<const char*>(&b[7]), id_len);
  // A key id as key names spell it (the KMS looks the key up by it).
  if (absl::Status s = ValidateKeyId(p.header.key_id, "ciphertext.key_id"); !s.ok()) return s;
  for (size_t i = 0; i < 4; ++i) p.header.version = p.header.version << 8 | b[7 + id_len + i];
  if (p.header.version == 0) {
    return absl::InvalidArgumentError("ciphertext.version: version 0 does not exist");
  }
  p.header_bytes.assign(b.begin(), b.begin() + header_len);
  p.iv.assign(b.begin() + header_len, b.begin() + header_len + kGcmIvBytes);
  p.sealed.assign(b.begin() + header_len + kGcmIvBytes, b.end());
  return p;
}

absl::StatusOr<Bytes> BuildAad(std::span<const uint8_t> header_bytes,
                               const std::map<std::string, std::string>& context) {
  Bytes aad(header_bytes.begin(), header_bytes.end());
  for (const auto& [k, v] : context) {  // std::map iterates sorted by key
    if (k.empty()) {
      return absl::InvalidArgumentError("encryption_context: keys must not be empty");
    }
    PutU32(aad, static_cast<uint32_t>(k.size()));
    aad.insert(aad.end(), k.begin(), k.end());
    PutU32(aad, static_cast<uint32_t>(v.size()));
    aad.insert(aad.end(), v.begin(), v.end());
  }
  return aad;
}

}  // namespace strongroom::kms
