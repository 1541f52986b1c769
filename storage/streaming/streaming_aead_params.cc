#include "storage/streaming/streaming_aead_params.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace strongroom::storage {

absl::string_view HkdfHashName(HkdfHash hash) {
  switch (hash) {
    case HkdfHash::kSha1:
      return "SHA1";
    case HkdfHash::kSha256:
      return "SHA256";
    case HkdfHash::kSha512:
      return "SHA512";
  }
  return "unknown";
}

absl::StatusOr<HkdfHash> ParseHkdfHash(absl::string_view name,
                                       absl::string_view field) {
  for (HkdfHash h : {HkdfHash::kSha1, HkdfHash::kSha256, HkdfHash::kSha512}) {
    if (name == HkdfHashName(h)) return h;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": \"", name, "\" is not SHA1, SHA256 or SHA512"));
}

absl::Status StreamingAeadParams::Validate() const {
  if (hkdf_hash != HkdfHash::kSha1 && hkdf_hash != HkdfHash::kSha256 &&
      hkdf_hash != HkdfHash::kSha512) {
    return absl::InvalidArgumentError(
        absl::StrCat("hkdf_hash: ", static_cast<int>(hkdf_hash),
                     " is not SHA1, SHA256 or SHA512"));
  }
  if (derived_key_size != 16 && derived_key_size != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "derived_key_size: ", derived_key_size, " is not 16 or 32"));
  }
  if (ciphertext_segment_size > kStreamingAeadMaxSegmentSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("ciphertext_segment_size: ", ciphertext_segment_size,
                     " exceeds the maximum of ", kStreamingAeadMaxSegmentSize));
  }
  // Segment 0 must hold at least one plaintext byte (Tink's rule).
  const uint64_t floor =
      uint64_t{ciphertext_offset} + header_size() + kStreamingAeadTagSize;
  if (ciphertext_segment_size <= floor) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ciphertext_segment_size: ", ciphertext_segment_size,
        " must exceed ciphertext_offset (", ciphertext_offset, ") + header (",
        header_size(), ") + tag (", kStreamingAeadTagSize, ") = ", floor));
  }
  return absl::OkStatus();
}

absl::Status StreamingAeadParams::ValidateWithKeySize(size_t key_size) const {
  if (absl::Status s = Validate(); !s.ok()) return s;
  if (key_size < kStreamingAeadMinKeySize || key_size < derived_key_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key: ", key_size, " bytes; needs at least ",
        std::max<size_t>(kStreamingAeadMinKeySize, derived_key_size),
        " for derived_key_size ", derived_key_size));
  }
  return absl::OkStatus();
}

uint64_t StreamingAeadParams::SegmentCount(uint64_t plaintext_size) const {
  const uint64_t first = first_plaintext_segment_size();
  if (plaintext_size <= first) return 1;
  const uint64_t rest = plaintext_size - first;
  const uint64_t full = plaintext_segment_size();
  return 1 + (rest + full - 1) / full;
}

absl::StatusOr<uint64_t> StreamingAeadParams::CiphertextSize(
    uint64_t plaintext_size) const {
  const uint64_t segments = SegmentCount(plaintext_size);
  if (segments > kStreamingAeadMaxSegments) {
    return absl::OutOfRangeError(
        absl::StrCat("plaintext_size: ", plaintext_size, " needs ", segments,
                     " segments; the format allows 2^32"));
  }
  return header_size() + plaintext_size + segments * kStreamingAeadTagSize;
}

}  // namespace strongroom::storage
