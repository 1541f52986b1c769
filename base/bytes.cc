#include "absl/strings/string_view.h"
#include "base/bytes.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace strongroom {

std::string HexEncode(std::span<const uint8_t> data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

absl::StatusOr<Bytes> HexDecode(absl::string_view hex, absl::string_view field) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": hex string has odd length ", hex.size()));
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": invalid hex digit at offset ", hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string Base64Encode(std::span<const uint8_t> data) {
  return absl::Base64Escape(AsStringView(data));
}

std::string Base64UrlEncode(std::span<const uint8_t> data) {
  return absl::WebSafeBase64Escape(AsStringView(data));
}

}  // namespace strongroom

namespace strongroom {

absl::StatusOr<Bytes> Base64Decode(absl::string_view text,
                                   absl::string_view field) {
  std::string out;
  if (!absl::Base64Unescape(text, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not valid base64 (", text.size(), " chars)"));
  }
  return Bytes(out.begin(), out.end());
}

absl::StatusOr<Bytes> Base64UrlDecode(absl::string_view text,
                                      absl::string_view field) {
  std::string out;
  if (!absl::WebSafeBase64Unescape(text, &out)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": not valid base64url (", text.size(), " chars)"));
  }
  return Bytes(out.begin(), out.end());
}

}  // namespace strongroom
