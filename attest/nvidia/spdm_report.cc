#include "attest/nvidia/spdm_report.h"

#include <openssl/sha.h>

#include <cstring>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace strongroom::attest {
namespace {

absl::Status Malformed(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("nvidia report: ", field, ": ", why));
}

std::string Hex8(uint8_t v) { return absl::StrFormat("0x%02x", v); }

// Bounds-checked little-endian cursor over the report.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }

  absl::Status Need(size_t n, absl::string_view field) const {
    if (remaining() < n) {
      return Malformed(
          field, absl::StrCat("truncated: needs ", n, " bytes at offset ", pos_,
                              ", ", remaining(), " left"));
    }
    return absl::OkStatus();
  }
  // Callers check Need() first.
  uint8_t U8() { return data_[pos_++]; }
  uint32_t Le(size_t n) {
    uint32_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint32_t{data_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> Take(size_t n) {
    std::span<const uint8_t> out = data_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}
constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

// Byte -> hex digit value, kHexSpace for ASCII whitespace (IsSpace), -1 for
// anything else.
constexpr int8_t kHexSpace = -2;
constexpr std::array<int8_t, 256> kHexValue = [] {
  std::array<int8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    t[c] = IsSpace(ch) ? kHexSpace : -1;
    if (c >= '0' && c <= '9') t[c] = static_cast<int8_t>(c - '0');
    if (c >= 'a' && c <= 'f') t[c] = static_cast<int8_t>(c - 'a' + 10);
    if (c >= 'A' && c <= 'F') t[c] = static_cast<int8_t>(c - 'A' + 10);
  }
  return t;
}();

absl::Status CheckVersion(uint8_t v, absl::string_view field) {
  if (v != kSpdmVersion11 && v != kSpdmVersion12) {
    return Malformed(field, absl::StrCat("SPDM version ", Hex8(v),
                                         " is not supported (0x11, 0x12)"));
  }
  return absl::OkStatus();
}

absl::Status ParseRequest(Cursor& in, SpdmMeasurementReport& out) {
  if (absl::Status s = in.Need(kSpdmRequestSize, "request"); !s.ok()) {
    return s;
  }
  out.version = in.U8();
  if (absl::Status s = CheckVersion(out.version, "request.version"); !s.ok()) {
    return s;
  }
  uint8_t code = in.U8();
  if (code != kSpdmGetMeasurements) {
    return Malformed(
        "request.code",
        absl::StrCat(Hex8(code), " is not GET_MEASUREMENTS (0xe0)"));
  }
  out.request_param1 = in.U8();
  if ((out.request_param1 & 0x01) == 0) {
    return Malformed("request.param1",
                     absl::StrCat(Hex8(out.request_param1),
                                  ": signature not requested, so the "
                                  "measurements cannot be authenticated"));
  }
  out.request_param2 = in.U8();
  if (out.request_param2 == 0) {
    return Malformed("request.param2",
                     "0x00 asks only for the number of blocks, not for "
                     "measurements");
  }
  std::span<const uint8_t> nonce = in.Take(kSpdmNonceSize);
  std::memcpy(out.request_nonce.data(), nonce.data(), kSpdmNonceSize);
  uint8_t slot = in.U8();
  if (slot > 7) {
    return Malformed("request.slot_id",
                     absl::StrCat(Hex8(slot), " is not a slot (0..7)"));
  }
  out.slot_id = slot;
  return absl::OkStatus();
}

absl::Status ParseBlocks(std::span<const uint8_t> record, size_t count,
                         SpdmMeasurementReport& out) {
  Cursor in(record);
  std::set<uint8_t> seen;
  for (size_t i = 0; i < count; ++i) {
    std::string field = absl::StrCat("response.measurement_block[", i, "]");
    if (absl::Status s = in.Need(4, field); !s.ok()) return s;
    SpdmMeasurementBlock block;
    block.index = in.U8();
    uint8_t spec = in.U8();
    size_t size = in.Le(2);
    if (block.index == 0 || block.index == 0xFF) {
      return Malformed(
          field, absl::StrCat("index ", Hex8(block.index), " is reserved"));
    }
    if (!seen.insert(block.index).second) {
      return Malformed(
          field, absl::StrCat("index ", int{block.index}, " appears twice"));
    }
    if (out.request_param2 != 0xFF && block.index != out.request_param2) {
      return Malformed(field, absl::StrCat("index ", int{block.index},
                                           " was not requested (param2 ",
                                           Hex8(out.request_param2), ")"));
    }
    if (spec != 0x01) {
      return Malformed(field, absl::StrCat("measurement specification ",
                                           Hex8(spec), " is not DMTF (0x01)"));
    }
    if (absl::Status s = in.Need(size, field); !s.ok()) return s;
    std::span<const uint8_t> dmtf = in.Take(size);
    if (size < 3) {
      return Malformed(
          field, absl::StrCat("size ", size, " is too small for a DMTF value"));
    }
    block.value_type = dmtf[0];
    size_t value_size = size_t{dmtf[1]} | size_t{dmtf[2]} << 8;
    if (value_size + 3 != size) {
      return Malformed(field,
                       absl::StrCat("DMTF value size ", value_size,
                                    " does not match block size ", size));
    }
    block.value.assign(dmtf.begin() + 3, dmtf.end());
    out.blocks.push_back(std::move(block));
  }
  if (in.remaining() != 0) {
    return Malformed("response.record_length",
                     absl::StrCat(in.remaining(), " bytes left after ", count,
                                  " measurement blocks"));
  }
  return absl::OkStatus();
}

absl::Status ParseResponse(Cursor& in, SpdmMeasurementReport& out) {
  if (absl::Status s = in.Need(8, "response"); !s.ok()) return s;
  uint8_t version = in.U8();
  if (version != out.version) {
    return Malformed("response.version",
                     absl::StrCat(Hex8(version), " differs from the request's ",
                                  Hex8(out.version)));
  }
  uint8_t code = in.U8();
  if (code != kSpdmMeasurements) {
    return Malformed("response.code",
                     absl::StrCat(Hex8(code), " is not MEASUREMENTS (0x60)"));
  }
  out.response_param1 = in.U8();
  out.response_param2 = in.U8();
  if ((out.response_param2 & 0x0F) != out.slot_id) {
    return Malformed(
        "response.param2",
        absl::StrCat("slot ", out.response_param2 & 0x0F,
                     " differs from the requested slot ", int{out.slot_id}));
  }
  size_t count = in.U8();
  size_t record_length = in.Le(3);
  if (record_length > in.remaining()) {
    return Malformed("response.record_length",
                     absl::StrCat(record_length, " exceeds the ",
                                  in.remaining(), " bytes that follow"));
  }
  if (count == 0) {
    return Malformed("response.number_of_blocks", "0: no measurements");
  }
  if (absl::Status s = ParseBlocks(in.Take(record_length), count, out);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = in.Need(kSpdmNonceSize + 2, "response.nonce"); !s.ok()) {
    return s;
  }
  std::span<const uint8_t> nonce = in.Take(kSpdmNonceSize);
  std::memcpy(out.response_nonce.data(), nonce.data(), kSpdmNonceSize);
  size_t opaque_length = in.Le(2);
  if (opaque_length > kSpdmMaxOpaqueSize) {
    return Malformed(
        "response.opaque_length",
        absl::StrCat(opaque_length, " exceeds ", kSpdmMaxOpaqueSize));
  }
  if (absl::Status s = in.Need(opaque_length, "response.opaque_data");
      !s.ok()) {
    return s;
  }
  std::span<const uint8_t> opaque = in.Take(opaque_length);
  out.opaque.assign(opaque.begin(), opaque.end());
  out.signed_size = in.offset();
  if (absl::Status s = in.Need(kSpdmSignatureSize, "response.signature");
      !s.ok()) {
    return s;
  }
  std::span<const uint8_t> sig = in.Take(kSpdmSignatureSize);
  std::memcpy(out.signature.data(), sig.data(), kSpdmSignatureSize);
  if (in.remaining() != 0) {
    return Malformed("response", absl::StrCat(in.remaining(),
                                              " trailing bytes after the "
                                              "signature"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Bytes> DecodeNvidiaReportPayload(absl::string_view payload) {
  if (payload.empty()) return Malformed("payload", "empty");
  size_t first = 0;
  while (first < payload.size() && IsSpace(payload[first])) ++first;
  if (first == payload.size() || !IsHexDigit(payload[first])) {
    if (payload.size() > kNvidiaMaxReportSize) {
      return Malformed(
          "payload", absl::StrCat(payload.size(), " bytes exceeds the limit"));
    }
    return Bytes(payload.begin(), payload.end());
  }
  if (payload.size() > 2 * kNvidiaMaxReportSize + 4096) {
    return Malformed("payload", absl::StrCat(payload.size(),
                                             " hex characters exceeds "
                                             "the limit"));
  }
  // One pass over the text (the report is decoded on every verification).
  Bytes out;
  out.reserve(payload.size() / 2);
  size_t digits = 0;
  uint8_t high = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    const int8_t v = kHexValue[static_cast<uint8_t>(payload[i])];
    if (v >= 0) {
      if (digits++ % 2 == 0) {
        high = static_cast<uint8_t>(v << 4);
      } else {
        out.push_back(high | static_cast<uint8_t>(v));
      }
    } else if (v != kHexSpace) {
      return Malformed(
          "payload", absl::StrCat("hex text has a non-hex byte at offset ", i));
    }
  }
  if (digits % 2 != 0) {
    return Malformed("payload",
                     absl::StrCat("hex string has odd length ", digits));
  }
  return out;
}

absl::StatusOr<SpdmMeasurementReport> ParseSpdmMeasurementReport(
    std::span<const uint8_t> report) {
  SpdmMeasurementReport out;
  Cursor in(report);
  if (absl::Status s = ParseRequest(in, out); !s.ok()) return s;
  if (absl::Status s = ParseResponse(in, out); !s.ok()) return s;
  return out;
}

Bytes SpdmSignedMessage(const SpdmMeasurementReport& parsed,
                        std::span<const uint8_t> report) {
  std::span<const uint8_t> l1l2 = report.first(parsed.signed_size);
  if (parsed.version == kSpdmVersion11) {
    return Bytes(l1l2.begin(), l1l2.end());
  }
  static constexpr absl::string_view kContext =
      "responder-measurements signing";
  static constexpr size_t kContextField = 36;  // zero pad + context
  Bytes out;
  std::string version = absl::StrFormat(
      "dmtf-spdm-v%d.%d.*", parsed.version >> 4, parsed.version & 0x0F);
  for (int i = 0; i < 4; ++i)
    out.insert(out.end(), version.begin(), version.end());
  out.insert(out.end(), kContextField - kContext.size(), 0);
  out.insert(out.end(), kContext.begin(), kContext.end());
  uint8_t digest[SHA384_DIGEST_LENGTH];
  SHA384(l1l2.data(), l1l2.size(), digest);
  out.insert(out.end(), digest, digest + sizeof(digest));
  return out;
}

}  // namespace strongroom::attest
