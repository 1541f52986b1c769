// Helpers for the sealed-store tests: well-formed headers and wrapped keys
// that need no KMS, a fake key directory, and one-call seal/open of whole
// objects through the same payload layer the client uses.
#ifndef STRONGROOM_TESTS_STORAGE_SEALED_SEALED_TEST_UTIL_H_
#define STRONGROOM_TESTS_STORAGE_SEALED_SEALED_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status_macros.h"
#include "storage/sealed/object_store.h"
#include "storage/sealed/sealed_header.h"
#include "storage/sealed/segment_stream.h"
#include "storage/streaming/streaming_aead_writer.h"

namespace strongroom::storage::sealed::testing {

// The public shape of a KMS ciphertext of a 32-byte key ("SRC1", docs/kms.md);
// the store only reads its header, so the sealed part is filler here.
inline Bytes FakeWrappedKey(const std::string& key_id, uint32_t version, uint8_t fill = 0xab) {
  std::string w = "SRC1";
  w += '\x01';
  w += '\x01';
  w += static_cast<char>(key_id.size());
  w += key_id;
  for (int i = 3; i >= 0; --i) w += static_cast<char>(version >> (8 * i));
  w.append(12 + 32 + 16, static_cast<char>(fill));
  return Bytes(w.begin(), w.end());
}

inline SealedHeader SampleHeader() {
  SealedHeader h;
  h.params.ciphertext_segment_size = 1 << 20;
  h.key_name = "keys/k1";
  h.key_version = 3;
  h.wrapped_key = FakeWrappedKey("k1", 3);
  h.dataset = "ds1";
  h.name = "models/llama/weights.bin";
  h.version = 7;
  h.stream_header = Bytes(40, 0x11);
  h.stream_header[0] = 40;
  return h;
}

// A sealed object cut the way the store keeps it: header and segments.
struct SealedParts {
  SealedHeader header;
  Bytes header_bytes;
  std::vector<std::string> segments;
  uint64_t stream_bytes = 0;
};

// Seals `plaintext` as (dataset, name, version) under `data_key`.
inline absl::StatusOr<SealedParts> Seal(const SecretBytes& data_key, const std::string& dataset,
                                        const std::string& name, uint64_t version,
                                        const std::string& plaintext, uint32_t segment_size = 4096,
                                        const std::string& key_id = "k1",
                                        uint32_t key_version = 1) {
  SealedParts out;
  SealedHeader& h = out.header;
  h.params.ciphertext_segment_size = segment_size;
  h.key_name = "keys/" + key_id;
  h.key_version = key_version;
  h.wrapped_key = FakeWrappedKey(key_id, key_version);
  h.dataset = dataset;
  h.name = name;
  h.version = version;
  SegmentSplitter splitter(
      h.params,
      [&](std::span<const uint8_t> sh) {
        h.stream_header.assign(sh.begin(), sh.end());
        return absl::OkStatus();
      },
      [&](uint64_t, std::span<const uint8_t> s) {
        out.segments.emplace_back(AsStringView(s));
        return absl::OkStatus();
      });
  ASSIGN_OR_RETURN(auto writer,
                   StreamingAeadWriter::Create(data_key, h.params, AssociatedData(h), &splitter));
  RETURN_IF_ERROR(writer->Write(AsBytes(plaintext)));
  RETURN_IF_ERROR(writer->Finish());
  RETURN_IF_ERROR(splitter.Finish());
  out.stream_bytes = splitter.stream_bytes();
  RETURN_IF_ERROR(h.Validate());
  out.header_bytes = h.Encode();
  return out;
}

// Decrypts [start, end) from segments handed out in order.
inline absl::StatusOr<std::string> Open(const SecretBytes& data_key, const SealedHeader& h,
                                        uint64_t stream_bytes,
                                        std::vector<SegmentStreamReader::Segment> segments,
                                        uint64_t start = 0, uint64_t end = UINT64_MAX) {
  size_t next = 0;
  ASSIGN_OR_RETURN(auto reader,
                   SegmentStreamReader::Create(
                       data_key, h.params, AssociatedData(h), h.stream_header, stream_bytes,
                       [&]() -> absl::StatusOr<std::optional<SegmentStreamReader::Segment>> {
                         if (next == segments.size()) return std::nullopt;
                         return segments[next++];
                       }));
  StringSink sink;
  RETURN_IF_ERROR(reader->CopyRange(start, end, &sink));
  return sink.Release();
}

// Keys the store may ask about, owned as configured; re-wraps by bumping
// the version in the fake wrapped key (the store sees only its header).
class FakeKeyDirectory final : public KeyDirectory {
 public:
  void AddKey(const std::string& name, const std::string& owner, uint32_t primary) {
    v1::Key k;
    k.set_name(name);
    k.set_owner(owner);
    k.set_primary_version(primary);
    keys_[name] = k;
  }
  absl::StatusOr<v1::Key> GetKey(const kms::Caller& c, absl::string_view name) override {
    auto it = keys_.find(std::string(name));
    if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("key ", name));
    if (c.role == kms::Role::kOwner && it->second.owner() != c.principal) {
      return absl::PermissionDeniedError("not your key");
    }
    return it->second;
  }
  absl::StatusOr<Rewrapped> Rewrap(absl::string_view owner, absl::string_view key_name,
                                   std::span<const uint8_t> wrapped,
                                   const std::map<std::string, std::string>&) override {
    ++rewraps;
    auto it = keys_.find(std::string(key_name));
    if (it == keys_.end() || it->second.owner() != owner) {
      return absl::PermissionDeniedError("not the owner");
    }
    if (fail_rewrap) return absl::FailedPreconditionError("version destroyed");
    Rewrapped r;
    r.key_version = it->second.primary_version();
    r.wrapped = FakeWrappedKey(std::string(key_name.substr(5)), r.key_version, 0xcd);
    (void)wrapped;
    return r;
  }
  int rewraps = 0;
  bool fail_rewrap = false;

 private:
  std::map<std::string, v1::Key> keys_;
};

}  // namespace strongroom::storage::sealed::testing

#endif  // STRONGROOM_TESTS_STORAGE_SEALED_SEALED_TEST_UTIL_H_
