// Byte-string helpers for public (non-secret) data: hex and base64 encoding.
// Decoders return InvalidArgument naming `field` and the offending position.
#ifndef STRONGROOM_BASE_BYTES_H_
#define STRONGROOM_BASE_BYTES_H_

#include "absl/strings/string_view.h"
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strongroom {

using Bytes = std::vector<uint8_t>;

std::string HexEncode(std::span<const uint8_t> data);  // lowercase
absl::StatusOr<Bytes> HexDecode(absl::string_view hex,
                                absl::string_view field = "hex");
std::string Base64Encode(std::span<const uint8_t> data);
std::string Base64UrlEncode(std::span<const uint8_t> data);  // unpadded
// Standard alphabet, padding optional; InvalidArgument naming `field`.
absl::StatusOr<Bytes> Base64Decode(absl::string_view text,
                                   absl::string_view field = "base64");
// URL-safe alphabet (RFC 4648 section 5), padding optional.
absl::StatusOr<Bytes> Base64UrlDecode(absl::string_view text,
                                      absl::string_view field = "base64url");

inline std::span<const uint8_t> AsBytes(absl::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline absl::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace strongroom

#endif  // STRONGROOM_BASE_BYTES_H_
