#include "attest/tpm/tpm_wire.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace strongroom::attest::tpm_wire {

absl::Status TpmReader::Error(absl::string_view field,
                              absl::string_view why) const {
  return absl::InvalidArgumentError(
      absl::StrCat(what_, ": ", field, ": ", why, " (offset ", offset_, ")"));
}

absl::StatusOr<std::span<const uint8_t>> TpmReader::Take(
    size_t n, absl::string_view field) {
  if (n > remaining()) {
    return Error(field, absl::StrCat("truncated: need ", n, " bytes, ",
                                     remaining(), " left"));
  }
  std::span<const uint8_t> out = data_.subspan(offset_, n);
  offset_ += n;
  return out;
}

absl::StatusOr<uint8_t> TpmReader::U8(absl::string_view field) {
  auto b = Take(1, field);
  if (!b.ok()) return b.status();
  return (*b)[0];
}

absl::StatusOr<uint16_t> TpmReader::U16(absl::string_view field) {
  auto b = Take(2, field);
  if (!b.ok()) return b.status();
  return static_cast<uint16_t>(((*b)[0] << 8) | (*b)[1]);
}

absl::StatusOr<uint32_t> TpmReader::U32(absl::string_view field) {
  auto b = Take(4, field);
  if (!b.ok()) return b.status();
  uint32_t v = 0;
  for (uint8_t c : *b) v = (v << 8) | c;
  return v;
}

absl::StatusOr<uint64_t> TpmReader::U64(absl::string_view field) {
  auto b = Take(8, field);
  if (!b.ok()) return b.status();
  uint64_t v = 0;
  for (uint8_t c : *b) v = (v << 8) | c;
  return v;
}

absl::StatusOr<Bytes> TpmReader::Sized(absl::string_view field,
                                       size_t max_size) {
  Bytes out;
  RETURN_IF_ERROR(SizedInto(field, max_size, &out));
  return out;
}

absl::Status TpmReader::SizedInto(absl::string_view field, size_t max_size,
                                  Bytes* out) {
  // "<field>.size" is only spelled out when the size is not there.
  if (remaining() < 2) return U16(absl::StrCat(field, ".size")).status();
  auto size = U16(field);
  if (!size.ok()) return size.status();
  if (*size > max_size) {
    return Error(field, absl::StrCat("size ", *size, " exceeds the maximum ",
                                     max_size));
  }
  auto b = Take(*size, field);
  if (!b.ok()) return b.status();
  out->assign(b->begin(), b->end());
  return absl::OkStatus();
}

absl::Status TpmReader::ExpectEnd() const {
  if (remaining() != 0) {
    return Error("end", absl::StrCat(remaining(),
                                     " trailing bytes after the structure"));
  }
  return absl::OkStatus();
}

void PutU8(Bytes& out, uint8_t v) { out.push_back(v); }
void PutU16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void PutU32(Bytes& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}
void PutU64(Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}
void PutBytes(Bytes& out, std::span<const uint8_t> v) {
  out.insert(out.end(), v.begin(), v.end());
}
void PutSized(Bytes& out, std::span<const uint8_t> v) {
  PutU16(out, static_cast<uint16_t>(v.size()));
  PutBytes(out, v);
}

}  // namespace strongroom::attest::tpm_wire
