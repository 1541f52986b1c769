#include "absl/strings/string_view.h"
#include "base/bytes.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/simd_text.h"

namespace strongroom {

namespace {

// Nibble value of each character, -1 for anything that is not a hex digit.
struct HexNibbles {
  int8_t value[256];
  constexpr HexNibbles() : value() {
    for (int i = 0; i < 256; ++i) value[i] = -1;
    for (int i = 0; i < 10; ++i) value['0' + i] = static_cast<int8_t>(i);
    for (int i = 0; i < 6; ++i) {
      value['a' + i] = static_cast<int8_t>(10 + i);
      value['A' + i] = static_cast<int8_t>(10 + i);
    }
  }
};
constexpr HexNibbles kHexNibbles;

}  // namespace

std::string HexEncode(std::span<const uint8_t> data) {
  // Sized once and written in place (vectorized where the CPU allows):
  // claims hex-encode every measurement.
  std::string out(data.size() * 2, '\0');
  HexEncodeInto(data, out.data());
  return out;
}

absl::StatusOr<Bytes> HexDecode(absl::string_view hex, absl::string_view field) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": hex string has odd length ", hex.size()));
  }
  Bytes out(hex.size() / 2);
  const auto* in = reinterpret_cast<const unsigned char*>(hex.data());
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = kHexNibbles.value[in[2 * i]];
    const int lo = kHexNibbles.value[in[2 * i + 1]];
    if ((hi | lo) < 0) {
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
