#include "storage/sealed/sealed_header.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "storage/sealed/object_names.h"

namespace strongroom::storage::sealed {
namespace {

constexpr char kAssociatedDataLabel[] = "strongroom-sealed-object";
// Every writer wraps a 32-byte data key (docs/sealed-format.md); a header
// whose wrapped key holds any other size could be stored but never read.
constexpr size_t kWrappedSecret = 32;

uint8_t HashId(storage::HkdfHash h) {
  switch (h) {
    case storage::HkdfHash::kSha1:
      return 1;
    case storage::HkdfHash::kSha256:
      return 2;
    case storage::HkdfHash::kSha512:
      return 3;
  }
  return 0;
}

absl::StatusOr<storage::HkdfHash> HashFromId(uint8_t id) {
  switch (id) {
    case 1:
      return storage::HkdfHash::kSha1;
    case 2:
      return storage::HkdfHash::kSha256;
    case 3:
      return storage::HkdfHash::kSha512;
  }
  return absl::InvalidArgumentError(absl::StrCat("sealed header.hkdf_hash: ", id,
                                                 " is not 1 (SHA-1), 2 (SHA-256) or 3 (SHA-512)"));
}

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(v); }
  void U16(uint16_t v) { BigEndian(v, 2); }
  void U32(uint32_t v) { BigEndian(v, 4); }
  void U64(uint64_t v) { BigEndian(v, 8); }
  void Raw(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Raw(absl::string_view s) { Raw(AsBytes(s)); }

 private:
  void BigEndian(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Bytes& out_;
};

// Reads fields in order; the first defect sticks and names its field.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool Take(size_t n, absl::string_view field, std::span<const uint8_t>* out) {
    if (!status_.ok()) return false;
    if (in_.size() - pos_ < n) {
      status_ = absl::InvalidArgumentError(
          absl::StrCat("sealed header.", field, ": truncated (needs ", n, " bytes at offset ", pos_,
                       ", ", in_.size() - pos_, " left)"));
      return false;
    }
    *out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  uint64_t Uint(size_t n, absl::string_view field) {
    std::span<const uint8_t> b;
    if (!Take(n, field, &b)) return 0;
    uint64_t v = 0;
    for (uint8_t c : b) v = (v << 8) | c;
    return v;
  }
  std::string String(size_t n, absl::string_view field) {
    std::span<const uint8_t> b;
    if (!Take(n, field, &b)) return "";
    return std::string(AsStringView(b));
  }
  size_t remaining() const { return in_.size() - pos_; }
  const absl::Status& status() const { return status_; }

 private:
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  absl::Status status_;
};

absl::Status Field(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("sealed header.", field, ": ", what));
}

}  // namespace

size_t SealedHeader::EncodedSize() const {
  return kSealedFixedPrefix + 1 + 1 + 4 + 1 + key_name.size() + 4 + 2 + wrapped_key.size() + 1 +
         dataset.size() + 2 + name.size() + 8 + stream_header.size();
}

absl::Status SealedHeader::Validate() const {
  if (format_version != kSealedFormatV1) {
    return Field("format_version", absl::StrCat(format_version,
                                                " is not supported (this build "
                                                "reads and writes version 1)"));
  }
  if (params.ciphertext_offset != 0) {
    return Field("ciphertext_offset", absl::StrCat(params.ciphertext_offset, ", must be 0"));
  }
  if (absl::Status s = params.Validate(); !s.ok()) {
    return Field("params", s.message());
  }
  if (absl::Status s = ValidateKeyName(key_name, "sealed header.key_name"); !s.ok()) return s;
  if (key_version == 0) return Field("key_version", "0, versions start at 1");
  if (wrapped_key.empty() || wrapped_key.size() > kMaxWrappedKeySize) {
    return Field("wrapped_key",
                 absl::StrCat(wrapped_key.size(), " bytes, expected 1..", kMaxWrappedKeySize));
  }
  absl::StatusOr<WrappedKeyReference> ref =
      ParseWrappedKeyReference(wrapped_key, "sealed header.wrapped_key");
  if (!ref.ok()) return ref.status();
  if (absl::StrCat("keys/", ref->key_id) != key_name) {
    return Field("wrapped_key", absl::StrCat("wrapped under keys/", ref->key_id,
                                             ", but the header names ", key_name));
  }
  if (ref->version != key_version) {
    return Field("key_version", absl::StrCat(key_version, ", but the wrapped key is under version ",
                                             ref->version));
  }
  if (absl::Status s = ValidateDatasetId(dataset, "sealed header.dataset"); !s.ok()) return s;
  if (absl::Status s = ValidateObjectName(name, "sealed header.name"); !s.ok()) return s;
  if (version == 0 || version > static_cast<uint64_t>(INT64_MAX)) {
    return Field("version", absl::StrCat(version, " is out of range 1..2^63-1"));
  }
  if (stream_header.size() != params.header_size() || stream_header[0] != params.header_size()) {
    return Field("stream_header", absl::StrCat(stream_header.size(), " bytes (length byte ",
                                               stream_header.empty() ? 0 : stream_header[0],
                                               "), expected ", params.header_size(), " for ",
                                               params.derived_key_size, "-byte derived keys"));
  }
  if (EncodedSize() > kMaxSealedHeaderSize) {
    return Field("size", absl::StrCat(EncodedSize(), " bytes, more than ", kMaxSealedHeaderSize));
  }
  return absl::OkStatus();
}

Bytes SealedHeader::Encode() const {
  Bytes out;
  out.reserve(EncodedSize());
  Writer w(out);
  w.Raw(absl::string_view(kSealedMagic, 4));
  w.U8(format_version);
  w.U8(0);  // flags
  w.U16(static_cast<uint16_t>(EncodedSize()));
  w.U8(HashId(params.hkdf_hash));
  w.U8(static_cast<uint8_t>(params.derived_key_size));
  w.U32(params.ciphertext_segment_size);
  w.U8(static_cast<uint8_t>(key_name.size()));
  w.Raw(key_name);
  w.U32(key_version);
  w.U16(static_cast<uint16_t>(wrapped_key.size()));
  w.Raw(wrapped_key);
  w.U8(static_cast<uint8_t>(dataset.size()));
  w.Raw(dataset);
  w.U16(static_cast<uint16_t>(name.size()));
  w.Raw(name);
  w.U64(version);
  w.Raw(stream_header);
  return out;
}

absl::StatusOr<size_t> PeekSealedHeaderSize(std::span<const uint8_t> prefix) {
  if (prefix.size() < kSealedFixedPrefix) {
    return Field("size", absl::StrCat("truncated: ", prefix.size(), " bytes, the fixed prefix is ",
                                      kSealedFixedPrefix));
  }
  if (std::memcmp(prefix.data(), kSealedMagic, 4) != 0) {
    return Field("magic", "not a sealed object (expected \"SRSO\")");
  }
  if (prefix[4] != kSealedFormatV1) {
    return Field("format_version", absl::StrCat(prefix[4],
                                                " is not supported (this build reads "
                                                "version 1)"));
  }
  if (prefix[5] != 0) return Field("flags", absl::StrCat(prefix[5], ", expected 0"));
  const size_t size = (size_t{prefix[6]} << 8) | prefix[7];
  if (size < kSealedFixedPrefix || size > kMaxSealedHeaderSize) {
    return Field("size", absl::StrCat(size, " is out of range ", kSealedFixedPrefix, "..",
                                      kMaxSealedHeaderSize));
  }
  return size;
}

absl::StatusOr<SealedHeader> ParseSealedHeader(std::span<const uint8_t> bytes) {
  absl::StatusOr<size_t> size = PeekSealedHeaderSize(bytes);
  if (!size.ok()) return size.status();
  if (*size != bytes.size()) {
    return Field("size",
                 absl::StrCat("announces ", *size, " bytes, but ", bytes.size(), " were given"));
  }
  Reader r(bytes.subspan(kSealedFixedPrefix));
  SealedHeader h;
  h.format_version = bytes[4];
  const uint8_t hash_id = static_cast<uint8_t>(r.Uint(1, "hkdf_hash"));
  h.params.derived_key_size = static_cast<uint32_t>(r.Uint(1, "derived_key_size"));
  h.params.ciphertext_segment_size = static_cast<uint32_t>(r.Uint(4, "segment_size"));
  h.params.ciphertext_offset = 0;
  h.key_name = r.String(r.Uint(1, "key_name length"), "key_name");
  h.key_version = static_cast<uint32_t>(r.Uint(4, "key_version"));
  std::span<const uint8_t> wrapped;
  if (r.Take(r.Uint(2, "wrapped_key length"), "wrapped_key", &wrapped)) {
    h.wrapped_key.assign(wrapped.begin(), wrapped.end());
  }
  h.dataset = r.String(r.Uint(1, "dataset length"), "dataset");
  h.name = r.String(r.Uint(2, "name length"), "name");
  h.version = r.Uint(8, "version");
  // The stream header's first byte is its own length (Tink).
  std::span<const uint8_t> first;
  if (r.Take(1, "stream_header", &first)) {
    std::span<const uint8_t> rest;
    if (first[0] >= 1 && r.Take(first[0] - 1, "stream_header", &rest)) {
      h.stream_header.push_back(first[0]);
      h.stream_header.insert(h.stream_header.end(), rest.begin(), rest.end());
    } else if (first[0] == 0) {
      return Field("stream_header", "length byte 0");
    }
  }
  if (!r.status().ok()) return r.status();
  if (r.remaining() != 0) {
    return Field("size", absl::StrCat(r.remaining(), " bytes follow the stream header"));
  }
  absl::StatusOr<storage::HkdfHash> hash = HashFromId(hash_id);
  if (!hash.ok()) return hash.status();
  h.params.hkdf_hash = *hash;
  if (absl::Status s = h.Validate(); !s.ok()) return s;
  return h;
}

Bytes AssociatedData(const SealedHeader& h) {
  Bytes out;
  Writer w(out);
  w.Raw(absl::string_view(kAssociatedDataLabel, sizeof(kAssociatedDataLabel)));  // with NUL
  w.U8(h.format_version);
  w.U8(HashId(h.params.hkdf_hash));
  w.U8(static_cast<uint8_t>(h.params.derived_key_size));
  w.U32(h.params.ciphertext_segment_size);
  w.U8(static_cast<uint8_t>(h.key_name.size()));
  w.Raw(h.key_name);
  w.U8(static_cast<uint8_t>(h.dataset.size()));
  w.Raw(h.dataset);
  w.U16(static_cast<uint16_t>(h.name.size()));
  w.Raw(h.name);
  w.U64(h.version);
  return out;
}

std::map<std::string, std::string> DataKeyContext(absl::string_view dataset, absl::string_view name,
                                                  uint64_t version) {
  return {{"strongroom.sealed.dataset", std::string(dataset)},
          {"strongroom.sealed.object", std::string(name)},
          {"strongroom.sealed.version", absl::StrCat(version)}};
}

absl::StatusOr<WrappedKeyReference> ParseWrappedKeyReference(std::span<const uint8_t> wrapped,
                                                             absl::string_view field) {
  auto bad = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
  };
  if (wrapped.size() < 7 || std::memcmp(wrapped.data(), "SRC1", 4) != 0) {
    return bad("not a KMS ciphertext (expected the \"SRC1\" magic)");
  }
  if (wrapped[4] != 1)
    return bad(absl::StrCat("KMS ciphertext format ", wrapped[4], ", expected 1"));
  if (wrapped[5] != 1) return bad(absl::StrCat("KMS algorithm ", wrapped[5], ", expected 1"));
  const size_t id_len = wrapped[6];
  if (id_len == 0 || id_len > 63) return bad(absl::StrCat("key id length ", id_len));
  const size_t fixed = 7 + id_len + 4 + 12 + 16;
  if (wrapped.size() != fixed + kWrappedSecret) {
    return bad(absl::StrCat(wrapped.size(), " bytes is not a wrapped ", kWrappedSecret,
                            "-byte data key (", fixed + kWrappedSecret,
                            " bytes with this key id)"));
  }
  WrappedKeyReference ref;
  ref.key_id = std::string(AsStringView(wrapped.subspan(7, id_len)));
  if (absl::Status s = ValidateKeyName(absl::StrCat("keys/", ref.key_id), field); !s.ok()) {
    return s;
  }
  for (size_t i = 0; i < 4; ++i) ref.version = (ref.version << 8) | wrapped[7 + id_len + i];
  if (ref.version == 0) return bad("key version 0");
  return ref;
}

}  // namespace strongroom::storage::sealed
